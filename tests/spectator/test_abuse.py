"""Hostile and slow watchers: bad frames, floods, and clients that stop reading."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
from typing import Any

import msgpack
import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from elysium.ws import envelope, frames
from spectator import protocol as sp
from spectator.client import SpectatorClient
from tests.gameserver.rawclient import assert_bad_http_answered
from tests.spectator.conftest import SyntheticFeed, watch_url

MATCH = "synthetic-1"


def delta(n: int, pad: int = 0) -> bytes:
    return envelope.pack({"t": "delta", "n": n, "ts": 0, "pad": b"x" * pad})


def keyframe(n: int, pad: int = 0) -> bytes:
    return envelope.pack({"t": "keyframe", "n": n, "ts": 0, "players": [], "objects": [], "roster": [], "a": [],
                          "pad": b"x" * pad})


@pytest.fixture
async def live_feed(redis_url: str) -> Any:
    client = aioredis.from_url(redis_url)
    synthetic = SyntheticFeed(client, MATCH)
    synthetic.describe()
    synthetic.append("k", keyframe(0))
    await synthetic.flush()
    yield synthetic
    await client.aclose()


async def raw_watch(port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def read_frames(reader: asyncio.StreamReader) -> list[frames.Message]:
    """Everything the relay sends until it closes the socket."""
    data = await asyncio.wait_for(reader.read(), 10)
    return frames.FrameReader(1 << 24, expect_mask=False).feed(data)


async def test_oversized_message_gets_too_large_and_1009(relay: Any, live_feed: Any) -> None:
    reader, writer = await raw_watch(relay.port, f"/v1/watch/{MATCH}")
    writer.write(frames.frame_client(frames.OP_BINARY, b"x" * 5000, os.urandom(4)))
    got = await read_frames(reader)
    errors = [sp.unpack(f.data) for f in got if f.opcode == frames.OP_BINARY and sp.unpack(f.data)["t"] == "error"]
    assert errors and errors[-1]["code"] == "too_large"
    assert got[-1].opcode == frames.OP_CLOSE and struct.unpack("!H", got[-1].data[:2])[0] == 1009
    writer.close()


async def test_broken_framing_closes_with_protocol_error(relay: Any, live_feed: Any) -> None:
    reader, writer = await raw_watch(relay.port, f"/v1/watch/{MATCH}")
    writer.write(b"\xff\xfe garbage that is not a websocket frame")
    got = await read_frames(reader)
    assert got[-1].opcode == frames.OP_CLOSE and struct.unpack("!H", got[-1].data[:2])[0] == 1002
    writer.close()


async def test_garbage_messages_get_errors_then_the_watcher_is_closed(relay: Any, live_feed: Any) -> None:
    async with connect(watch_url(relay, MATCH)) as ws:
        hello = sp.unpack(await ws.recv())  # type: ignore[arg-type]
        assert hello["t"] == "watch"
        await ws.send(b"\xc1not msgpack")
        await ws.send("text is not allowed")
        await ws.send(msgpack.packb({"t": "input", "i": [[1, 0, 0, 0, False]]}))
        codes = []
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(10):
                await ws.send(msgpack.packb({"t": "join", "v": 1, "token": "x"}))
            while True:
                msg = sp.unpack(await asyncio.wait_for(ws.recv(), 10))  # type: ignore[arg-type]
                if msg["t"] == "error":
                    codes.append(msg["code"])
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert codes[:3] == ["bad_frame", "text_frame", "unknown_type"]
    assert relay.metrics.rejected_messages.labels("bad_frame")._value.get() == 1


async def test_ping_is_answered_and_leave_closes(relay: Any, live_feed: Any) -> None:
    spectator = SpectatorClient(watch_url(relay, MATCH))
    await spectator.connect()
    await spectator.expect("keyframe")
    await spectator.send(msgpack.packb({"t": "ping", "id": 42, "ts": 7}))
    pong = await spectator.expect("pong")
    assert pong["id"] == 42 and pong["ts"] == 7 and pong["sts"] > 0
    await spectator.send(msgpack.packb({"t": "leave"}))
    await spectator.watch_until_closed(10)
    assert spectator.close_code == 1000


async def test_bad_watch_request_is_refused_after_the_upgrade(relay: Any, live_feed: Any) -> None:
    spectator = SpectatorClient(watch_url(relay, MATCH, "delay=9999"))
    await spectator.connect()
    msg = await spectator.recv()
    assert msg["t"] == "error" and msg["code"] == "bad_request" and "delay" in msg["msg"]
    await spectator.watch_until_closed(10)
    assert spectator.close_code == 1008 and relay.watching == 0


async def test_a_slow_watcher_skips_to_a_keyframe_and_others_get_everything(relay_factory: Any, live_feed: Any) -> None:
    relay = await relay_factory(skip_bytes=256 * 1024, close_bytes=64 * 1024 * 1024)
    fast = SpectatorClient(watch_url(relay, MATCH))
    await fast.connect()
    await fast.expect("keyframe")
    # This one reads nothing for a while: the websockets client stops reading its socket
    # once a few messages are queued.
    slow_ws = await connect(watch_url(relay, MATCH), max_queue=2, compression=None, max_size=2**22)
    slow = SpectatorClient(watch_url(relay, MATCH))
    slow.ws = slow_ws
    await slow.expect("keyframe")
    n = 0
    fast_ticks: list[int] = []

    async def write_batch(count: int, keyframe_every: int) -> None:
        nonlocal n
        for _ in range(count):
            n += 1
            live_feed.append("k" if n % keyframe_every == 0 else "d",
                             keyframe(n, 16_000) if n % keyframe_every == 0 else delta(n, 16_000), tick=n)
        await live_feed.flush()
        while not fast_ticks or fast_ticks[-1] < n:  # the fast watcher keeps up
            msg = await fast.recv()
            if msg["t"] in ("delta", "keyframe"):
                fast_ticks.append(msg["n"])

    while relay.metrics.frames_skipped._value.get() == 0:
        await write_batch(20, 1000)
        assert n < 5000, "the slow watcher was never skipped"
    skipped_from = n
    # The slow watcher reads again; a keyframe brings it back once its backlog is gone.
    drained: list[dict[str, Any]] = []
    reading = asyncio.create_task(slow.watch_until_closed(60, lambda s, m: drained.append(m)))
    while relay.metrics.resyncs._value.get() == 0:
        await write_batch(10, 5)
        assert n < 10_000, "the slow watcher never came back"
    await write_batch(20, 1000)
    assert fast_ticks == list(range(1, n + 1))  # the fast one never missed anything
    while not drained or drained[-1].get("n") != n:
        await asyncio.sleep(0.02)
    reading.cancel()
    ticks = [m["n"] for m in drained if m["t"] in ("delta", "keyframe")]
    kinds = [m["t"] for m in drained if m["t"] in ("delta", "keyframe")]
    # Somewhere after it fell behind there is a hole, and right after each hole a keyframe.
    holes = [i for i in range(1, len(ticks)) if ticks[i] != ticks[i - 1] + 1]
    assert holes, ticks
    assert all(kinds[i] == "keyframe" and ticks[i] > skipped_from for i in holes)
    assert ticks[-1] == n
    assert relay.metrics.resyncs._value.get() >= 1
    await fast.close()
    await slow.close()


async def test_a_watcher_that_never_reads_is_disconnected(relay_factory: Any, live_feed: Any) -> None:
    relay = await relay_factory(skip_bytes=64 * 1024, close_bytes=64 * 1024 * 1024, slow_close_s=0.3)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", relay.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(f"GET /v1/watch/{MATCH} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    n = 0
    while relay.metrics.slow_closed._value.get() == 0:
        for _ in range(20):
            n += 1
            live_feed.append("d", delta(n, 32_000), tick=n)
        await live_feed.flush()
        await asyncio.sleep(0.01)
        assert n < 20_000, "the watcher was never disconnected"
    assert relay.metrics.frames_skipped._value.get() > 0
    assert relay.watching == 0 or not any(c.open for c in relay.connections)
    writer.close()


async def test_message_floods_are_rate_limited(relay_factory: Any, live_feed: Any) -> None:
    relay = await relay_factory(max_messages_per_s=1, abuse_limit=100)
    spectator = SpectatorClient(watch_url(relay, MATCH))
    await spectator.connect()
    await spectator.expect("keyframe")
    for i in range(5):
        await spectator.send(msgpack.packb({"t": "ping", "id": i}))
    error = await spectator.expect("error")
    assert error["code"] == "rate_limited"
    assert relay.metrics.rejected_messages.labels("rate_limited")._value.get() >= 1
    await spectator.close()


async def test_bad_http_requests_get_clear_answers(relay: Any) -> None:
    await assert_bad_http_answered(relay.port, "/healthz", "/v1/matches", "/v1/watch/m")
