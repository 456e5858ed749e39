"""Protocol version 1: msgpack messages in binary websocket frames. No I/O here.

``docs/protocol.md`` is the reference for third-party clients; this module is the
implementation. Every message is a msgpack map with a type tag under ``"t"``.
Decoding is strict: anything a client sends that does not match the documented shape
raises :class:`ProtocolViolation` with a stable code, and nothing is applied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import msgpack

from elysium.errors import CodedError

PROTOCOL_VERSION: Final = 1
MAX_CLIENT_MESSAGE_BYTES: Final = 4096
MAX_INPUTS_PER_MESSAGE: Final = 16
MAX_SEQ: Final = 2**32 - 1
MAX_TOKEN_CHARS: Final = 2048

# Quantisation used in keyframes and deltas.
POSITION_SCALE: Final = 100  # 1 unit on the wire = 1 cm
ANGLE_SCALE: Final = 1000  # 1 unit on the wire = 1 mrad

# Stable error codes carried by "error" frames.
BAD_FRAME: Final = "bad_frame"  # not msgpack, or not a map, or trailing bytes
TOO_LARGE: Final = "too_large"
UNKNOWN_TYPE: Final = "unknown_type"
BAD_FIELD: Final = "bad_field"  # a field is missing, has the wrong type or is out of range
NOT_JOINED: Final = "not_joined"
ALREADY_JOINED: Final = "already_joined"
RATE_LIMITED: Final = "rate_limited"
TOKEN_REJECTED: Final = "token_rejected"
TOKEN_REUSED: Final = "token_reused"
WRONG_SERVER: Final = "wrong_server"
ROOM_FULL: Final = "room_full"
ROOM_CLOSED: Final = "room_closed"
NOT_IN_ROSTER: Final = "not_in_roster"
RESUME_REJECTED: Final = "resume_rejected"
DRAINING: Final = "draining"
UNSUPPORTED_VERSION: Final = "unsupported_version"
TEXT_FRAME: Final = "text_frame"
INTERNAL: Final = "internal"


class ProtocolViolation(CodedError):
    """The peer sent something the protocol does not allow."""


# --- client to server -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Join:
    token: str | None
    resume: str | None
    version: int


class Input(NamedTuple):
    """One input: a named tuple because thousands are decoded per second."""

    seq: int
    move_x: float  # -1..1, scaled by the mode's top speed
    move_y: float
    aim: float  # radians, -pi..pi
    fire: bool


IDLE_INPUT: Final = Input(0, 0.0, 0.0, 0.0, False)


@dataclass(frozen=True, slots=True)
class Inputs:
    inputs: tuple[Input, ...]


@dataclass(frozen=True, slots=True)
class Ping:
    id: int
    client_time: int | None


@dataclass(frozen=True, slots=True)
class Leave:
    pass


ClientMessage = Join | Inputs | Ping | Leave


def _unpack(data: bytes) -> Any:
    if len(data) > MAX_CLIENT_MESSAGE_BYTES:
        raise ProtocolViolation(TOO_LARGE, f"message is {len(data)} bytes, limit {MAX_CLIENT_MESSAGE_BYTES}")
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            max_str_len=MAX_TOKEN_CHARS,
            max_bin_len=0,
            max_array_len=MAX_INPUTS_PER_MESSAGE * 5 + 16,
            max_map_len=16,
            max_ext_len=0,
        )
    except (ValueError, msgpack.UnpackException, TypeError, RecursionError) as exc:
        raise ProtocolViolation(BAD_FRAME, f"not a msgpack message: {type(exc).__name__}") from None


def _number(value: Any, name: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProtocolViolation(BAD_FIELD, f"{name} must be a number")
    f = float(value)
    if not math.isfinite(f) or not lo <= f <= hi:
        raise ProtocolViolation(BAD_FIELD, f"{name} must be between {lo:g} and {hi:g}")
    return f


def _int(value: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ProtocolViolation(BAD_FIELD, f"{name} must be an integer between {lo} and {hi}")
    return int(value)


_AIM_MAX = math.pi + 1e-6


_new_tuple = tuple.__new__


def _input(row: Any) -> Input:
    # Fast path: the shape every well-behaved client sends (NaN fails the comparisons).
    if type(row) is list and len(row) == 5:
        seq, mx, my, aim, fire = row
        if (type(seq) is int and 0 <= seq <= MAX_SEQ and type(mx) is float and -1.0 <= mx <= 1.0
                and type(my) is float and -1.0 <= my <= 1.0 and type(aim) is float and -_AIM_MAX <= aim <= _AIM_MAX
                and type(fire) is bool):
            return _new_tuple(Input, row)  # the row is already the tuple's fields, in order
    return _input_checked(row)


def _input_checked(row: Any) -> Input:
    if not isinstance(row, list) or len(row) != 5:
        raise ProtocolViolation(BAD_FIELD, "each input must be [seq, move_x, move_y, aim, fire]")
    seq, mx, my, aim, fire = row
    if not isinstance(fire, bool) and fire not in (0, 1):
        raise ProtocolViolation(BAD_FIELD, "fire must be a boolean")
    return Input(
        _int(seq, "seq", 0, MAX_SEQ),
        _number(mx, "move_x", -1.0, 1.0),
        _number(my, "move_y", -1.0, 1.0),
        _number(aim, "aim", -_AIM_MAX, _AIM_MAX),
        bool(fire),
    )


def decode_client(data: bytes) -> ClientMessage:
    """Decode one client message or raise :class:`ProtocolViolation`."""
    msg = _unpack(data)
    if not isinstance(msg, dict):
        raise ProtocolViolation(BAD_FRAME, "message must be a map")
    kind = msg.get("t")
    if kind == "input":
        rows = msg.get("i")
        if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_INPUTS_PER_MESSAGE:
            raise ProtocolViolation(BAD_FIELD, f"i must be a list of 1 to {MAX_INPUTS_PER_MESSAGE} inputs")
        return Inputs(tuple(_input(r) for r in rows))
    if kind == "ping":
        ident = _int(msg.get("id"), "id", 0, MAX_SEQ)
        ts = msg.get("ts")
        if ts is not None:
            ts = _int(ts, "ts", 0, 2**63 - 1)
        return Ping(ident, ts)
    if kind == "join":
        version = _int(msg.get("v", PROTOCOL_VERSION), "v", 0, 255)
        token, resume = msg.get("token"), msg.get("resume")
        if (token is None) == (resume is None):
            raise ProtocolViolation(BAD_FIELD, "join needs exactly one of token or resume")
        for name, value in (("token", token), ("resume", resume)):
            if value is not None and (not isinstance(value, str) or not value):
                raise ProtocolViolation(BAD_FIELD, f"{name} must be a non-empty string")
        return Join(token, resume, version)
    if kind == "leave":
        return Leave()
    if not isinstance(kind, str):
        raise ProtocolViolation(BAD_FIELD, "t must be a string type tag")
    raise ProtocolViolation(UNKNOWN_TYPE, f"unknown message type {kind[:32]!r}")


def decode_inputs_fast(data: bytes) -> tuple[Input, ...] | None:
    """The common case, quickly: a small, valid ``input`` message; None for anything else.

    For anything it does not accept, :func:`decode_client` gives the exact answer; both
    accept exactly the same well-formed input messages.
    """
    if len(data) > 256:
        return None
    try:
        msg = msgpack.unpackb(data, raw=False, strict_map_key=True, max_bin_len=0, max_ext_len=0)
    except (ValueError, msgpack.UnpackException, TypeError):
        return None
    if type(msg) is not dict or msg.get("t") != "input" or len(msg) != 2:
        return None
    rows = msg.get("i")
    if type(rows) is not list or not 1 <= len(rows) <= MAX_INPUTS_PER_MESSAGE:
        return None
    try:
        return (_input(rows[0]),) if len(rows) == 1 else tuple(map(_input, rows))
    except ProtocolViolation:
        return None


def encode_join(token: str | None = None, resume: str | None = None) -> bytes:
    msg: dict[str, Any] = {"t": "join", "v": PROTOCOL_VERSION}
    if token is not None:
        msg["token"] = token
    if resume is not None:
        msg["resume"] = resume
    return pack(msg)


def encode_inputs(inputs: list[Input] | tuple[Input, ...]) -> bytes:
    return pack({"t": "input", "i": [[i.seq, i.move_x, i.move_y, i.aim, i.fire] for i in inputs]})


def encode_ping(ident: int, client_time: int | None = None) -> bytes:
    msg: dict[str, Any] = {"t": "ping", "id": ident}
    if client_time is not None:
        msg["ts"] = client_time
    return pack(msg)


def encode_leave() -> bytes:
    return pack({"t": "leave"})


# --- server to client -----------------------------------------------------------------

def pack(msg: dict[str, Any]) -> bytes:
    data: bytes = msgpack.packb(msg, use_bin_type=True)
    return data


def unpack_server(data: bytes) -> dict[str, Any]:
    """Decode a server message (used by clients, bots, tests and the load tester)."""
    msg = msgpack.unpackb(data, raw=False, strict_map_key=False)
    if not isinstance(msg, dict) or "t" not in msg:
        raise ProtocolViolation(BAD_FRAME, "server message must be a map with t")
    return msg


def error(code: str, message: str, ref: int | None = None) -> bytes:
    msg: dict[str, Any] = {"t": "error", "code": code, "msg": message[:200]}
    if ref is not None:
        msg["ref"] = ref
    return pack(msg)


def pong(ident: int, client_time: int | None, server_time_us: int) -> bytes:
    return pack({"t": "pong", "id": ident, "ts": client_time, "sts": server_time_us})


def shutdown(reason: str) -> bytes:
    return pack({"t": "shutdown", "reason": reason})


def quantise_position(value: float) -> int:
    return int(round(value * POSITION_SCALE))


def quantise_angle(value: float) -> int:
    return int(round(value * ANGLE_SCALE))
