"""Property-based fuzzing: random and mutated frames never crash the decoder, a room or the server."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gameserver import protocol as p
from gameserver import wire
from gameserver.server import GameServer
from tests.gameserver.conftest import make_settings

VALID = [
    p.encode_inputs([p.Input(1, 0.5, -0.5, 1.0, True)]),
    p.encode_ping(3, 99),
    p.encode_join(token="x.y.z"),
    p.encode_leave(),
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
        assert exc.code in {p.BAD_FRAME, p.TOO_LARGE, p.UNKNOWN_TYPE, p.BAD_FIELD}
    else:
        assert isinstance(msg, (p.Join, p.Inputs, p.Ping, p.Leave))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(1, 50))
def test_frame_reader_never_fails_other_than_by_frame_error(data: bytes, chunk: int) -> None:
    reader = wire.FrameReader(4096)
    try:
        for i in range(0, len(data), chunk):
            reader.feed(data[i:i + chunk])
    except wire.FrameError as exc:
        assert exc.close_code in (wire.CLOSE_PROTOCOL_ERROR, wire.CLOSE_TOO_BIG)


@pytest.fixture
def threaded_server(redis_url: str, keys_dir: Any) -> Iterator[GameServer]:
    """A real server on its own event loop thread, so a synchronous hypothesis test can drive it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> GameServer:
        server = GameServer(make_settings(redis_url, keys_dir, abuse_limit=5, reconnect_grace_s=0.0))
        await server.start()
        return server

    server = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


class BlockingPlayer:
    def __init__(self, port: int, token: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(f"GET /v1/play HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 101")
        self.send(p.encode_join(token=token))

    def send(self, payload: bytes) -> bool:
        try:
            self.sock.sendall(wire.frame_client(wire.OP_BINARY, payload, os.urandom(4)))
            return True
        except OSError:
            return False

    def close(self) -> None:
        self.sock.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(
    st.binary(max_size=120),
    msgpack_values.map(lambda v: msgpack.packb(v, use_bin_type=True)),
    st.tuples(st.sampled_from(VALID[:2]), st.lists(st.tuples(st.integers(0, 60), st.integers(0, 255)),
                                                   min_size=1, max_size=3)).map(lambda t: mutate(*t)),
), min_size=1, max_size=12))
def test_random_and_mutated_frames_through_a_live_connection(threaded_server: GameServer, join_signer: Any,
                                                             payloads: list[bytes]) -> None:
    """Fuzzed messages from a joined player: errors or a close, never a crash; the room ticks on."""
    from elysium import devtokens

    room = devtokens.room_claim(seats=100, min_players=1)
    token = devtokens.mint_join(join_signer, match_id="fuzz", player_id=f"f{os.urandom(4).hex()}",
                                server_id="test-gs-1", room=room)
    player = BlockingPlayer(threaded_server.port, token)
    try:
        for payload in payloads:
            if not player.send(payload):
                break
    finally:
        player.close()
    assert threaded_server._tasks[0].done() is False  # the scheduler is alive


def test_the_room_survives_the_fuzzing(threaded_server: GameServer, join_signer: Any) -> None:
    from elysium import devtokens

    room = devtokens.room_claim(seats=100, min_players=1)
    # An honest player stays for the whole test, so the room has someone in it throughout
    # (a room everyone left ends by itself).
    anchor = BlockingPlayer(threaded_server.port, devtokens.mint_join(
        join_signer, match_id="survivors", player_id="anchor", server_id="test-gs-1", room=room))
    time.sleep(0.2)
    for i in range(30):
        token = devtokens.mint_join(join_signer, match_id="survivors", player_id=f"g{i}", server_id="test-gs-1",
                                    room=room)
        player = BlockingPlayer(threaded_server.port, token)
        for payload in (b"\xc1", msgpack.packb({"t": "input", "i": [[1, 9, 9, 9, 9]]}), bytes(range(40))):
            player.send(payload)
        player.sock.sendall(bytes(range(256)))  # not even a frame
        player.close()
    time.sleep(0.3)
    tick = threaded_server.rooms["survivors"].tick_number
    time.sleep(0.3)
    assert threaded_server.rooms["survivors"].tick_number > tick
    assert threaded_server._tasks[0].done() is False
    anchor.close()


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
        assert not (isinstance(full, p.Inputs) and all(type(i.move_x) is float for i in full.inputs)
                    and msgpack.unpackb(data).keys() == {"t", "i"})
