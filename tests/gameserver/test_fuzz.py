"""Property-based fuzzing: random and mutated frames never crash the decoder, a room or the server."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elysium import devtokens
from elysium.ws import envelope, frames, play
from gameserver import protocol as p
from gameserver.server import GameServer
from tests.gameserver.conftest import make_settings
from tests.waiting import wait_until

VALID = [
    play.encode_inputs([p.Input(1, 0.5, -0.5, 1.0, True)]),
    envelope.encode_ping(3, 99),
    play.encode_join(token="x.y.z"),
    envelope.encode_leave(),
]

msgpack_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=True)
    | st.text(max_size=20) | st.binary(max_size=20),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=5), children, max_size=6),
    max_leaves=30,
)


def mutate(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for pos, value in flips:
        if out:
            out[pos % len(out)] = value
    return bytes(out)


@settings(max_examples=600, deadline=None)
@given(st.one_of(
    st.binary(max_size=300),
    msgpack_values.map(lambda v: msgpack.packb(v, use_bin_type=True)),
    st.tuples(st.sampled_from(VALID), st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=4))
    .map(lambda t: mutate(*t)),
    st.fixed_dictionaries({"t": st.sampled_from(["input", "join", "ping", "leave"])}, optional={
        "i": msgpack_values, "token": msgpack_values, "resume": msgpack_values, "id": msgpack_values,
        "ts": msgpack_values, "v": msgpack_values}).map(msgpack.packb),
))
def test_decoder_answers_anything_with_a_message_or_a_violation(data: bytes) -> None:
    try:
        msg = p.decode_client(data)
    except p.ProtocolViolation as exc:
        assert exc.code in {p.BAD_FRAME, p.TOO_LARGE, p.UNKNOWN_TYPE, p.BAD_FIELD, p.UNSUPPORTED_VERSION}
    else:
        assert isinstance(msg, (p.Join, p.Inputs, p.Ping, p.Leave))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(1, 50))
def test_frame_reader_never_fails_other_than_by_frame_error(data: bytes, chunk: int) -> None:
    reader = frames.FrameReader(4096)
    try:
        for i in range(0, len(data), chunk):
            reader.feed(data[i:i + chunk])
    except frames.FrameError as exc:
        assert exc.close_code in (frames.CLOSE_PROTOCOL_ERROR, frames.CLOSE_TOO_BIG)


class LoopErrors(logging.Handler):
    """What reached the server's event loop unhandled, and what the server logged as an error."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.found: list[str] = []

    def on_loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.found.append(f"loop: {context.get('message')}: {context.get('exception')!r}")

    def emit(self, record: logging.LogRecord) -> None:
        self.found.append(f"log {record.name}: {record.getMessage()} {record.exc_info and record.exc_info[1]!r}")


@dataclass
class Fuzzed:
    server: GameServer
    errors: LoopErrors


@pytest.fixture
def threaded_server(redis_url: str, keys_dir: Any) -> Iterator[Fuzzed]:
    """A real server on its own event loop thread, so a synchronous hypothesis test can drive it.

    Any exception that reaches the loop, and any error the server logs, fails the test.
    """
    errors = LoopErrors()
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(errors.on_loop_exception)
    for name in ("gameserver", "elysium", "asyncio"):
        logging.getLogger(name).addHandler(errors)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> GameServer:
        server = GameServer(make_settings(redis_url, keys_dir, abuse_limit=5, reconnect_grace_s=0.0))
        await server.start()
        return server

    try:
        server = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
        yield Fuzzed(server, errors)
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
        for name in ("gameserver", "elysium", "asyncio"):
            logging.getLogger(name).removeHandler(errors)
    assert errors.found == [], errors.found


class BlockingPlayer:
    def __init__(self, port: int, token: str, *, wait_welcome: bool = False) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.frames = frames.FrameReader(1 << 24, expect_mask=False)
        self.pending: list[frames.Message] = []
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(f"GET /v1/play HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(4096)
        head, rest = head.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101")
        self.pending.extend(self.frames.feed(rest))
        self.send(play.encode_join(token=token))
        if wait_welcome:
            while (msg := self.recv_msg()) is not None and msg["t"] != "welcome":
                pass
            assert msg is not None, "closed before the welcome"

    def send(self, payload: bytes) -> bool:
        try:
            self.sock.sendall(frames.frame_client(frames.OP_BINARY, payload, os.urandom(4)))
            return True
        except OSError:
            return False

    def recv(self) -> frames.Message | None:
        """The next frame, or None when the connection ended without one (EOF or reset)."""
        while not self.pending:
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                return None
            if not data:
                return None
            self.pending.extend(self.frames.feed(data))
        return self.pending.pop(0)

    def recv_msg(self) -> dict[str, Any] | None:
        """The next server message; None when the connection ended (a close frame included)."""
        while (frame := self.recv()) is not None:
            if frame.opcode == frames.OP_CLOSE:
                return None
            if frame.opcode == frames.OP_BINARY:
                return envelope.unpack(frame.data)
        return None

    def ends_cleanly(self, ping_id: int) -> str:
        """After whatever was sent: the server still answers a ping, or it closed with a close frame.

        An exception in the server's message handler aborts the transport: no close frame, no pong.
        """
        self.send(envelope.encode_ping(ping_id, 1))
        while (frame := self.recv()) is not None:
            if frame.opcode == frames.OP_CLOSE:
                return f"closed {int.from_bytes(frame.data[:2], 'big')}"
            if frame.opcode == frames.OP_BINARY:
                msg = envelope.unpack(frame.data)
                if msg["t"] == "pong" and msg["id"] == ping_id:
                    return "answered"
                if msg["t"] == "error" and msg["code"] == p.RATE_LIMITED:
                    return "rate limited"
        raise AssertionError("the connection ended without a close frame: the server dropped it")

    def close(self) -> None:
        self.sock.close()


class Honest:
    """A player that stays in the room and reads every delta on its own thread."""

    def __init__(self, port: int, token: str) -> None:
        self.player = BlockingPlayer(port, token, wait_welcome=True)
        self.player.sock.settimeout(None)
        self.deltas = 0
        self.ended = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            while (msg := self.player.recv_msg()) is not None:
                if msg["t"] == "delta":
                    self.deltas += 1
        except OSError:
            pass
        self.ended = True

    def keeps_receiving(self, more: int = 3) -> None:
        seen = self.deltas
        wait_until(lambda: self.deltas >= seen + more or self.ended, 5.0, what=f"{more} more deltas")
        assert not self.ended, "the honest player was dropped"

    def close(self) -> None:
        self.player.close()
        self.thread.join(5)


ROOM = devtokens.room_claim(seats=100, min_players=1, time_limit_s=3600, score_limit=1000)


@pytest.fixture
def honest(threaded_server: Fuzzed, join_signer: Any) -> Iterator[Honest]:
    token = devtokens.mint_join(join_signer, match_id="fuzz", player_id="honest", server_id="test-gs-1",
                                room=ROOM)
    player = Honest(threaded_server.server.port, token)
    player.keeps_receiving()
    yield player
    player.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(
    st.binary(max_size=120),
    msgpack_values.map(lambda v: msgpack.packb(v, use_bin_type=True)),
    st.tuples(st.sampled_from(VALID[:2]), st.lists(st.tuples(st.integers(0, 60), st.integers(0, 255)),
                                                   min_size=1, max_size=3)).map(lambda t: mutate(*t)),
), min_size=1, max_size=12))
def test_random_and_mutated_frames_through_a_live_connection(threaded_server: Fuzzed, honest: Honest,
                                                             join_signer: Any, payloads: list[bytes]) -> None:
    """Fuzzed messages from a joined player get errors or a clean close; the honest player plays on."""
    token = devtokens.mint_join(join_signer, match_id="fuzz", player_id=f"f{os.urandom(4).hex()}",
                                server_id="test-gs-1", room=ROOM)
    player = BlockingPlayer(threaded_server.server.port, token, wait_welcome=True)
    try:
        for payload in payloads:
            if not player.send(payload):
                break
        player.ends_cleanly(ping_id=7)
    finally:
        player.close()
    assert threaded_server.errors.found == []
    honest.keeps_receiving()


def test_the_room_survives_the_fuzzing(threaded_server: Fuzzed, honest: Honest, join_signer: Any) -> None:
    for i in range(30):
        token = devtokens.mint_join(join_signer, match_id="fuzz", player_id=f"g{i}", server_id="test-gs-1",
                                    room=ROOM)
        player = BlockingPlayer(threaded_server.server.port, token, wait_welcome=True)
        for payload in (b"\xc1", msgpack.packb({"t": "input", "i": [[1, 9, 9, 9, 9]]}), bytes(range(40))):
            player.send(payload)
        player.sock.sendall(bytes(range(256)))  # not even a frame
        assert player.ends_cleanly(ping_id=i) == f"closed {frames.CLOSE_PROTOCOL_ERROR}"
        player.close()
        if i % 10 == 0:
            honest.keeps_receiving()
    honest.keeps_receiving()
    assert threaded_server.server._tasks[0].done() is False  # the scheduler is alive
    assert threaded_server.errors.found == []


@settings(max_examples=400, deadline=None)
@given(st.one_of(
    msgpack_values.map(lambda v: msgpack.packb(v, use_bin_type=True)),
    st.lists(st.tuples(st.integers(-5, 2**33), st.floats(-1.5, 1.5), st.floats(-1.5, 1.5), st.floats(-4, 4),
                       st.sampled_from([True, False, 0, 1, 2])), min_size=0, max_size=18)
    .map(lambda rows: msgpack.packb({"t": "input", "i": [list(r) for r in rows]})),
))
def test_the_fast_input_decoder_accepts_only_what_the_full_decoder_accepts(data: bytes) -> None:
    fast = p.decode_inputs_fast(data)
    if fast is not None:
        assert p.decode_client(data) == p.Inputs(fast)
    elif len(data) <= 256:
        try:
            full = p.decode_client(data)
        except p.ProtocolViolation:
            return
        # The fast path may decline valid messages (then the full decoder handles them),
        # but never an ordinary input message.
        assert not (isinstance(full, p.Inputs) and all(type(i[1]) is float for i in full.inputs)
                    and msgpack.unpackb(data).keys() == {"t", "i"})
