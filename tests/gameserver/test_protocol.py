"""The codec and framing without sockets: round trips and strict rejection."""

from __future__ import annotations

import math

import msgpack
import pytest

from elysium.ws import envelope, frames, play
from gameserver import protocol as p


def test_client_messages_round_trip() -> None:
    inputs = [p.Input(1, 0.5, -1.0, math.pi, True), p.Input(2, 0.0, 0.25, -1.5, False)]
    assert p.decode_client(play.encode_inputs(inputs)) == p.Inputs(tuple(inputs))
    assert p.decode_client(play.encode_join(token="abc")) == p.Join("abc", None, 1)
    assert p.decode_client(play.encode_join(resume="r")) == p.Join(None, "r", 1)
    assert p.decode_client(envelope.encode_ping(7, 123)) == p.Ping(7, 123)
    assert p.decode_client(envelope.encode_ping(7)) == p.Ping(7, None)
    assert p.decode_client(envelope.encode_leave()) == p.Leave()


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (b"\xc1", p.BAD_FRAME),  # never-used msgpack byte
        (b"\x93\x01\x02", p.BAD_FRAME),  # truncated
        (msgpack.packb([1, 2]), p.BAD_FRAME),
        (msgpack.packb({"t": "dance"}), p.UNKNOWN_TYPE),
        (msgpack.packb({"t": 5}), p.BAD_FIELD),
        (msgpack.packb({}), p.BAD_FIELD),
        (msgpack.packb({"t": "input", "i": []}), p.BAD_FIELD),
        (msgpack.packb({"t": "input", "i": [[1, 2.0, 0, 0, False]]}), p.BAD_FIELD),  # move_x > 1
        (msgpack.packb({"t": "input", "i": [[1, 0, 0, 4.0, False]]}), p.BAD_FIELD),  # aim > pi
        (msgpack.packb({"t": "input", "i": [[-1, 0, 0, 0, False]]}), p.BAD_FIELD),
        (msgpack.packb({"t": "input", "i": [[1, float("nan"), 0, 0, False]]}), p.BAD_FIELD),
        (msgpack.packb({"t": "input", "i": [[1, 0, 0, 0, "yes"]]}), p.BAD_FIELD),
        (msgpack.packb({"t": "input", "i": [[1, 0, 0, 0]]}), p.BAD_FIELD),
        (msgpack.packb({"t": "input", "i": [[i, 0, 0, 0, 0] for i in range(17)]}), p.BAD_FIELD),
        (msgpack.packb({"t": "input", "i": [[True, 0, 0, 0, 0]]}), p.BAD_FIELD),
        (msgpack.packb({"t": "join", "v": 1}), p.BAD_FIELD),
        (msgpack.packb({"t": "join", "token": "a"}), p.UNSUPPORTED_VERSION),  # v is required
        (msgpack.packb({"t": "join", "v": "1", "token": "a"}), p.UNSUPPORTED_VERSION),
        (msgpack.packb({"t": "join", "v": 1, "token": "a", "resume": "b"}), p.BAD_FIELD),
        (msgpack.packb({"t": "join", "v": 1, "token": 5}), p.BAD_FIELD),
        (msgpack.packb({"t": "ping"}), p.BAD_FIELD),
        (msgpack.packb({"t": "ping", "id": 1, "ts": -5}), p.BAD_FIELD),
        (msgpack.packb({"t": "join", "v": 1, "token": "x" * 3000}), p.BAD_FIELD),  # the field names its cap
        (msgpack.packb({"t": "ping", "id": 1, "b": b"\x00"}), p.BAD_FRAME),  # bin not allowed
        (b"\x00" * 5000, p.TOO_LARGE),
    ],
)
def test_bad_client_messages_are_rejected_with_a_stable_code(message: bytes, code: str) -> None:
    with pytest.raises(p.ProtocolViolation) as info:
        p.decode_client(message)
    assert info.value.code == code


def test_server_frames_are_unmasked_and_read_back() -> None:
    for size in (0, 1, 125, 126, 65535, 65536, 70000):
        payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
        frame = frames.frame_binary(payload)
        reader = frames.FrameReader(1 << 20, expect_mask=False)
        # Delivered one byte at a time, the reader still yields exactly one message.
        messages = [m for i in range(len(frame)) for m in reader.feed(frame[i:i + 1])] if size < 300 else \
            reader.feed(frame)
        assert [(m.opcode, m.data) for m in messages] == [(frames.OP_BINARY, payload)]


def test_client_frames_are_unmasked_by_the_reader() -> None:
    reader = frames.FrameReader(4096)
    data = frames.frame_client(frames.OP_BINARY, b"hello", b"\x01\x02\x03\x04") * 3
    assert [m.data for m in reader.feed(data)] == [b"hello"] * 3


def test_fragmented_messages_are_reassembled() -> None:
    reader = frames.FrameReader(4096)
    first = bytearray(frames.frame_client(frames.OP_BINARY, b"abc", b"\x00" * 4))
    first[0] &= 0x7F  # FIN off
    last = bytearray(frames.frame_client(frames.OP_CONT, b"def", b"\x00" * 4))
    ping = frames.frame_client(frames.OP_PING, b"x", b"\x00" * 4)
    out = reader.feed(bytes(first) + ping + bytes(last))
    assert [(m.opcode, m.data) for m in out] == [(frames.OP_PING, b"x"), (frames.OP_BINARY, b"abcdef")]


@pytest.mark.parametrize(
    ("frame", "close_code"),
    [
        (frames.frame_binary(b"unmasked"), frames.CLOSE_PROTOCOL_ERROR),
        (bytes([0x82 | 0x40, 0x80]) + b"\x00" * 4, frames.CLOSE_PROTOCOL_ERROR),  # RSV1
        (bytes([0x83, 0x80]) + b"\x00" * 4, frames.CLOSE_PROTOCOL_ERROR),  # reserved opcode
        (bytes([0x80, 0x81]) + b"\x00" * 4 + b"x", frames.CLOSE_PROTOCOL_ERROR),  # continuation first
        (bytes([0x82, 0xFE, 0x20, 0x00]) + b"\x00" * 4, frames.CLOSE_TOO_BIG),  # 8 KiB announced
        (bytes([0x82, 0xFF]) + (2**40).to_bytes(8, "big"), frames.CLOSE_TOO_BIG),
        (bytes([0x09, 0x80]) + b"\x00" * 4, frames.CLOSE_PROTOCOL_ERROR),  # fragmented control
    ],
)
def test_framing_violations(frame: bytes, close_code: int) -> None:
    with pytest.raises(frames.FrameError) as info:
        frames.FrameReader(4096).feed(frame)
    assert info.value.close_code == close_code


def test_server_messages_carry_type_tags() -> None:
    assert envelope.unpack(p.error(p.BAD_FIELD, "x"))["code"] == p.BAD_FIELD
    assert envelope.unpack(p.pong(1, 2, 3)) == {"t": "pong", "id": 1, "ts": 2, "sts": 3}
    assert envelope.unpack(p.shutdown("bye"))["t"] == "shutdown"
