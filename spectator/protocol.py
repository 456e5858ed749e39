"""The watch protocol: what a spectator sends and the relay's own messages. No I/O here.

Feed messages (keyframe, delta, events) are the game's bytes, relayed untouched; this
module only builds the few messages the relay adds (``watch``, ``end``, ``stream_ended``,
``shutdown``, ``error``, ``pong``) and parses the watch request and what a watcher sends.
``docs/spectator.md`` is the reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl, unquote

from elysium import numbers
from elysium.errors import CodedError
from elysium.ws.envelope import BAD_FIELD as BAD_FIELD
from elysium.ws.envelope import BAD_FRAME as BAD_FRAME
from elysium.ws.envelope import DRAINING as DRAINING
from elysium.ws.envelope import INTERNAL as INTERNAL
from elysium.ws.envelope import PROTOCOL_VERSION as PROTOCOL_VERSION
from elysium.ws.envelope import RATE_LIMITED as RATE_LIMITED
from elysium.ws.envelope import TEXT_FRAME as TEXT_FRAME
from elysium.ws.envelope import TOO_LARGE as TOO_LARGE
from elysium.ws.envelope import UNKNOWN_TYPE as UNKNOWN_TYPE
from elysium.ws.envelope import Leave as Leave
from elysium.ws.envelope import Ping as Ping
from elysium.ws.envelope import ProtocolViolation as ProtocolViolation
from elysium.ws.envelope import decode_ping, unknown_type, unpack_client
from elysium.ws.envelope import error as error
from elysium.ws.envelope import pack as pack
from elysium.ws.envelope import pong as pong
from elysium.ws.envelope import unpack as unpack

WATCH_PREFIX: Final = "/v1/watch/"
LATEST: Final = "_latest"  # reserved id: the most recently updated live match

# Stable error codes of the watch protocol, beside the shared ones (elysium.ws.envelope).
UNKNOWN_MATCH: Final = "unknown_match"
BAD_REQUEST: Final = "bad_request"
SEEK_OUT_OF_RANGE: Final = "seek_out_of_range"
BUSY: Final = "busy"
INVALID_TOKEN: Final = "invalid_token"
MAX_TOKEN_CHARS: Final = 4096

_MATCH_ID = re.compile(r"[A-Za-z0-9._:~-]{1,64}")
MAX_TICK: Final = 2**31 - 1
MIN_SPEED: Final = 0.25
MAX_SPEED: Final = 16.0


class WatchRefused(CodedError):
    """The watch request cannot be served; ``code`` is one of the stable codes above."""


@dataclass(frozen=True, slots=True)
class WatchRequest:
    match_id: str
    delay_s: float | None  # None: the mode's minimum
    from_tick: int | None  # None: live (or a finished match from its start)
    speed: float = 1.0  # replay pace: 1 is as played, 4 is four times as fast
    token: str | None = None  # a player access token: the watcher is shown watching to their friends


def parse_watch_target(target: str, max_delay_s: float) -> WatchRequest:
    """Parse ``/v1/watch/{match_id}?delay=S&from=N&token=T`` (the request target of the upgrade)."""
    path, _, query = target.partition("?")
    if not path.startswith(WATCH_PREFIX):
        raise WatchRefused(BAD_REQUEST, "watch path is /v1/watch/{match_id}")
    match_id = unquote(path[len(WATCH_PREFIX):])
    if not _MATCH_ID.fullmatch(match_id):
        raise WatchRefused(BAD_REQUEST, "match id must be 1 to 64 characters of A-Z a-z 0-9 . _ : ~ -")
    delay: float | None = None
    from_tick: int | None = None
    speed = 1.0
    token: str | None = None
    seen: set[str] = set()
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in seen:
            raise WatchRefused(BAD_REQUEST, f"query parameter {name[:16]!r} given twice")
        seen.add(name)
        try:
            if name == "delay":
                delay = numbers.decimal(value, "delay", 0, max_delay_s)
            elif name == "from":
                from_tick = 0 if value == "start" else numbers.whole(value, "from", 0, MAX_TICK)
            elif name == "speed":
                speed = numbers.decimal(value, "speed", MIN_SPEED, MAX_SPEED)
            elif name == "token":
                if not 1 <= len(value) <= MAX_TOKEN_CHARS:
                    raise WatchRefused(BAD_REQUEST, f"token must be 1 to {MAX_TOKEN_CHARS} characters")
                token = value
            else:
                raise WatchRefused(BAD_REQUEST, f"unknown query parameter {name[:16]!r}; use delay, from, speed "
                                                "and token")
        except numbers.NumberError as exc:
            raise WatchRefused(BAD_REQUEST, f"{exc}, or 'start'" if name == "from" else str(exc)) from None
    if delay is not None and from_tick is not None:
        raise WatchRefused(BAD_REQUEST, "give delay (live) or from (replay and seek), not both")
    return WatchRequest(match_id, delay, from_tick, speed, token)


# --- what a watcher may send ------------------------------------------------------------


def decode_watcher(data: bytes, max_bytes: int) -> Ping | Leave:
    """A watcher sends only ``ping`` and ``leave``; anything else raises ProtocolViolation."""
    msg = unpack_client(data, max_bytes, max_str_len=256, max_array_len=16, max_map_len=8)
    kind = msg.get("t")
    if kind == "ping":
        return decode_ping(msg)
    if kind == "leave":
        return Leave()
    raise unknown_type(kind, "ping or leave")


# --- what the relay adds ----------------------------------------------------------------


def watch(*, match_id: str, mode: str | None, state: str | None, live: bool, delay_s: float, min_delay_s: float,
          bundle_s: float, from_tick: int | None, speed: float, tick_hz: int | None, players: list[Any],
          columns: dict[str, Any] | None, map_info: dict[str, Any] | None,
          input_schema: dict[str, Any] | None = None, options: dict[str, Any] | None = None) -> bytes:
    return pack({
        "t": "watch", "v": PROTOCOL_VERSION, "match": match_id, "mode": mode, "state": state, "live": live,
        "delay_s": delay_s, "min_delay_s": min_delay_s, "bundle_s": bundle_s, "from": from_tick, "speed": speed,
        "tick_hz": tick_hz, "players": players, "columns": columns, "map": map_info,
        "input": input_schema, "options": options,
    })


def end(match_id: str, tick: int, reason: str | None, results: list[Any] | None) -> bytes:
    return pack({"t": "end", "match": match_id, "n": tick, "reason": reason, "results": results})


def stream_ended(match_id: str, reason: str, retry: bool) -> bytes:
    return pack({"t": "stream_ended", "match": match_id, "reason": reason, "retry": retry})


def shutdown(reason: str) -> bytes:
    return pack({"t": "shutdown", "reason": reason, "reconnect": True})
