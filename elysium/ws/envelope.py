"""The envelope both websocket protocols share (game and watch, version 1). No I/O here.

Every message is one msgpack map in one binary frame, with its type tag, a string, under
``"t"``. A client correlates a ``pong`` with its ``ping`` by ``id``; an ``error`` that
answers one message names it under ``ref``. Both protocols carry their version as ``v``
in their opening message (``join``, ``watch``) and share the messages below: ``ping``,
``pong``, ``leave`` and ``error``, with the error codes every websocket endpoint uses.
``gameserver.protocol`` and ``spectator.protocol`` add their own messages and codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import msgpack

from elysium.errors import CodedError

PROTOCOL_VERSION: Final = 1
TYPE_KEY: Final = "t"
MAX_ID: Final = 2**32 - 1  # ping ids and sequence numbers
MAX_TIME: Final = 2**63 - 1  # client time stamps
MAX_ERROR_CHARS: Final = 200

# Stable error codes shared by both protocols (each protocol adds its own).
BAD_FRAME: Final = "bad_frame"  # not msgpack, or not a map, or trailing bytes
TOO_LARGE: Final = "too_large"
UNKNOWN_TYPE: Final = "unknown_type"
BAD_FIELD: Final = "bad_field"  # a field is missing, has the wrong type or is out of range
TEXT_FRAME: Final = "text_frame"
RATE_LIMITED: Final = "rate_limited"
UNSUPPORTED_VERSION: Final = "unsupported_version"
DRAINING: Final = "draining"
INTERNAL: Final = "internal"


class ProtocolViolation(CodedError):
    """The peer sent something the protocol does not allow; ``code`` is one of the stable codes."""


@dataclass(frozen=True, slots=True)
class Ping:
    id: int
    client_time: int | None


@dataclass(frozen=True, slots=True)
class Leave:
    pass


# --- reading ----------------------------------------------------------------------------


def unpack_client(data: bytes, max_bytes: int, *, max_str_len: int, max_array_len: int,
                  max_map_len: int) -> dict[Any, Any]:
    """Strictly decode one peer message into its map, with hard limits, or raise ProtocolViolation."""
    if len(data) > max_bytes:
        raise ProtocolViolation(TOO_LARGE, f"message is {len(data)} bytes, limit {max_bytes}")
    try:
        msg = msgpack.unpackb(data, raw=False, strict_map_key=True, max_str_len=max_str_len, max_bin_len=0,
                              max_array_len=max_array_len, max_map_len=max_map_len, max_ext_len=0)
    except (ValueError, msgpack.UnpackException, TypeError, RecursionError) as exc:
        raise ProtocolViolation(BAD_FRAME, f"not a msgpack message: {type(exc).__name__}") from None
    if not isinstance(msg, dict):
        raise ProtocolViolation(BAD_FRAME, "message must be a map")
    return msg


def integer(value: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ProtocolViolation(BAD_FIELD, f"{name} must be an integer between {lo} and {hi}")
    return int(value)


def decode_ping(msg: dict[Any, Any]) -> Ping:
    """The fields of a ``ping`` map: ``id`` (0..2^32-1) and an optional ``ts``."""
    ident = integer(msg.get("id"), "id", 0, MAX_ID)
    ts = msg.get("ts")
    return Ping(ident, None if ts is None else integer(ts, "ts", 0, MAX_TIME))


def unknown_type(kind: Any, allowed: str) -> ProtocolViolation:
    """The violation for a type tag that is not a string, or names no message the peer may send.

    ``allowed`` lists the types the peer may send, as words ("ping or leave").
    """
    if not isinstance(kind, str):
        return ProtocolViolation(BAD_FIELD, "t must be a string type tag")
    return ProtocolViolation(UNKNOWN_TYPE, f"unknown message type {kind[:32]!r}; send {allowed}")


def unpack(data: bytes) -> dict[str, Any]:
    """Decode a message from a server (clients, bots, tests and the load tester)."""
    msg = msgpack.unpackb(data, raw=False, strict_map_key=False)
    if not isinstance(msg, dict) or TYPE_KEY not in msg:
        raise ProtocolViolation(BAD_FRAME, "message must be a map with t")
    return msg


# --- writing ----------------------------------------------------------------------------


def pack(msg: dict[str, Any]) -> bytes:
    data: bytes = msgpack.packb(msg, use_bin_type=True)
    return data


def error(code: str, message: str, ref: int | None = None) -> bytes:
    msg: dict[str, Any] = {"t": "error", "code": code, "msg": message[:MAX_ERROR_CHARS]}
    if ref is not None:
        msg["ref"] = ref
    return pack(msg)


def pong(ident: int, client_time: int | None, server_time_us: int) -> bytes:
    """The answer to a ping: ``ts`` is echoed only when the ping carried one (never nil)."""
    msg: dict[str, Any] = {"t": "pong", "id": ident, "sts": server_time_us}
    if client_time is not None:
        msg["ts"] = client_time
    return pack(msg)


def encode_ping(ident: int, client_time: int | None = None) -> bytes:
    msg: dict[str, Any] = {"t": "ping", "id": ident}
    if client_time is not None:
        msg["ts"] = client_time
    return pack(msg)


def encode_leave() -> bytes:
    return pack({"t": "leave"})
