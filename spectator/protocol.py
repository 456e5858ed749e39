"""The watch protocol: what a spectator sends and the relay's own messages. No I/O here.

Feed messages (keyframe, delta, events) are the game's bytes, relayed untouched; this
module only builds the few messages the relay adds (``watch``, ``end``, ``stream_ended``,
``shutdown``, ``error``, ``pong``) and parses the watch request and what a watcher sends.
``docs/spectator.md`` is the reference.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl, unquote

import msgpack

from elysium.errors import CodedError
from gameserver.protocol import ProtocolViolation  # one error type for both websocket protocols

PROTOCOL_VERSION: Final = 1
WATCH_PREFIX: Final = "/v1/watch/"
LATEST: Final = "_latest"  # reserved id: the most recently updated live match

# Stable error codes carried by "error" messages.
UNKNOWN_MATCH: Final = "unknown_match"
BAD_REQUEST: Final = "bad_request"
SEEK_OUT_OF_RANGE: Final = "seek_out_of_range"
BAD_FRAME: Final = "bad_frame"
TOO_LARGE: Final = "too_large"
UNKNOWN_TYPE: Final = "unknown_type"
BAD_FIELD: Final = "bad_field"
TEXT_FRAME: Final = "text_frame"
RATE_LIMITED: Final = "rate_limited"
BUSY: Final = "busy"
DRAINING: Final = "draining"
INTERNAL: Final = "internal"

_MATCH_ID = re.compile(r"[A-Za-z0-9._:~-]{1,64}")
MAX_TICK: Final = 2**31 - 1
MAX_SPEED: Final = 16.0


class WatchRefused(CodedError):
    """The watch request cannot be served; ``code`` is one of the stable codes above."""


@dataclass(frozen=True, slots=True)
class WatchRequest:
    match_id: str
    delay_s: float | None  # None: the mode's minimum
    from_tick: int | None  # None: live (or a finished match from its start)
    speed: float = 1.0  # replay pace: 1 is as played, 4 is four times as fast


def parse_watch_target(target: str, max_delay_s: float) -> WatchRequest:
    """Parse ``/v1/watch/{match_id}?delay=S&from=N`` (the request target of the upgrade)."""
    path, _, query = target.partition("?")
    if not path.startswith(WATCH_PREFIX):
        raise WatchRefused(BAD_REQUEST, "watch path is /v1/watch/{match_id}")
    match_id = unquote(path[len(WATCH_PREFIX):])
    if not _MATCH_ID.fullmatch(match_id):
        raise WatchRefused(BAD_REQUEST, "match id must be 1 to 64 characters of A-Z a-z 0-9 . _ : ~ -")
    delay: float | None = None
    from_tick: int | None = None
    speed = 1.0
    seen: set[str] = set()
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in seen:
            raise WatchRefused(BAD_REQUEST, f"query parameter {name[:16]!r} given twice")
        seen.add(name)
        if name == "delay":
            try:
                delay = float(value)
            except ValueError:
                raise WatchRefused(BAD_REQUEST, "delay must be a number of seconds") from None
            if not math.isfinite(delay) or not 0 <= delay <= max_delay_s:
                raise WatchRefused(BAD_REQUEST, f"delay must be between 0 and {max_delay_s:g} seconds")
        elif name == "from":
            if value == "start":
                from_tick = 0
            elif value.isdigit() and len(value) <= 10 and int(value) <= MAX_TICK:
                from_tick = int(value)
            else:
                raise WatchRefused(BAD_REQUEST, "from must be a tick number or 'start'")
        elif name == "speed":
            try:
                speed = float(value)
            except ValueError:
                raise WatchRefused(BAD_REQUEST, "speed must be a number") from None
            if not math.isfinite(speed) or not 0.25 <= speed <= MAX_SPEED:
                raise WatchRefused(BAD_REQUEST, f"speed must be between 0.25 and {MAX_SPEED:g}")
        else:
            raise WatchRefused(BAD_REQUEST, f"unknown query parameter {name[:16]!r}; use delay, from and speed")
    if delay is not None and from_tick is not None:
        raise WatchRefused(BAD_REQUEST, "give delay (live) or from (replay and seek), not both")
    return WatchRequest(match_id, delay, from_tick, speed)


# --- what a watcher may send ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ping:
    id: int
    client_time: int | None


@dataclass(frozen=True, slots=True)
class Leave:
    pass


def decode_watcher(data: bytes, max_bytes: int) -> Ping | Leave:
    """A watcher sends only ``ping`` and ``leave``; anything else raises ProtocolViolation."""
    if len(data) > max_bytes:
        raise ProtocolViolation(TOO_LARGE, f"message is {len(data)} bytes, limit {max_bytes}")
    try:
        msg = msgpack.unpackb(data, raw=False, strict_map_key=True, max_str_len=256, max_bin_len=0,
                              max_array_len=16, max_map_len=8, max_ext_len=0)
    except (ValueError, msgpack.UnpackException, TypeError, RecursionError) as exc:
        raise ProtocolViolation(BAD_FRAME, f"not a msgpack message: {type(exc).__name__}") from None
    if not isinstance(msg, dict):
        raise ProtocolViolation(BAD_FRAME, "message must be a map")
    kind = msg.get("t")
    if kind == "ping":
        ident, ts = msg.get("id"), msg.get("ts")
        if isinstance(ident, bool) or not isinstance(ident, int) or not 0 <= ident < 2**32:
            raise ProtocolViolation(BAD_FIELD, "id must be an integer between 0 and 2^32-1")
        if ts is not None and (isinstance(ts, bool) or not isinstance(ts, int) or not 0 <= ts < 2**63):
            raise ProtocolViolation(BAD_FIELD, "ts must be a non-negative integer")
        return Ping(ident, ts)
    if kind == "leave":
        return Leave()
    if not isinstance(kind, str):
        raise ProtocolViolation(BAD_FIELD, "t must be a string type tag")
    raise ProtocolViolation(UNKNOWN_TYPE, f"a watcher may send ping or leave, not {kind[:32]!r}")


# --- what the relay adds ----------------------------------------------------------------


def pack(msg: dict[str, Any]) -> bytes:
    data: bytes = msgpack.packb(msg, use_bin_type=True)
    return data


def unpack(data: bytes) -> dict[str, Any]:
    msg = msgpack.unpackb(data, raw=False, strict_map_key=False)
    if not isinstance(msg, dict) or "t" not in msg:
        raise ProtocolViolation(BAD_FRAME, "message must be a map with t")
    return msg


def watch(*, match_id: str, mode: str | None, state: str | None, live: bool, delay_s: float, min_delay_s: float,
          bundle_s: float, from_tick: int | None, speed: float, tick_hz: int | None, players: list[Any],
          columns: dict[str, Any] | None, map_info: dict[str, Any] | None) -> bytes:
    return pack({
        "t": "watch", "v": PROTOCOL_VERSION, "match": match_id, "mode": mode, "state": state, "live": live,
        "delay_s": delay_s, "min_delay_s": min_delay_s, "bundle_s": bundle_s, "from": from_tick, "speed": speed,
        "tick_hz": tick_hz, "players": players, "columns": columns, "map": map_info,
    })


def end(match_id: str, tick: int, reason: str | None, results: list[Any] | None) -> bytes:
    return pack({"t": "end", "match": match_id, "n": tick, "reason": reason, "results": results})


def stream_ended(match_id: str, reason: str, retry: bool) -> bytes:
    return pack({"t": "stream_ended", "match": match_id, "reason": reason, "retry": retry})


def shutdown(reason: str) -> bytes:
    return pack({"t": "shutdown", "reason": reason, "reconnect": True})


def error(code: str, message: str) -> bytes:
    return pack({"t": "error", "code": code, "msg": message[:200]})


def pong(ident: int, client_time: int | None, server_time_us: int) -> bytes:
    return pack({"t": "pong", "id": ident, "ts": client_time, "sts": server_time_us})
