"""Protocol version 1: msgpack messages in binary websocket frames. No I/O here.

``docs/protocol.md`` is the reference for third-party clients; this module is the
server's implementation. The envelope (type tag ``"t"``, ``ping``, ``pong``, ``leave``,
``error``, the shared codes, :class:`ProtocolViolation`) is :mod:`elysium.ws.envelope`;
what a client encodes (``join``, ``input``, the game's codes) is :mod:`elysium.ws.play`.
Decoding is strict: anything a client sends that does not match the documented shape
raises :class:`ProtocolViolation` with a stable code, and nothing is applied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import msgpack

from elysium.modes.schema import BoolField, FloatField, InputSchema
from elysium.ws.envelope import BAD_FIELD as BAD_FIELD
from elysium.ws.envelope import BAD_FRAME as BAD_FRAME
from elysium.ws.envelope import DRAINING as DRAINING
from elysium.ws.envelope import INTERNAL as INTERNAL
from elysium.ws.envelope import MAX_ID
from elysium.ws.envelope import PROTOCOL_VERSION as PROTOCOL_VERSION
from elysium.ws.envelope import RATE_LIMITED as RATE_LIMITED
from elysium.ws.envelope import TEXT_FRAME as TEXT_FRAME
from elysium.ws.envelope import TOO_LARGE as TOO_LARGE
from elysium.ws.envelope import UNKNOWN_TYPE as UNKNOWN_TYPE
from elysium.ws.envelope import UNSUPPORTED_VERSION as UNSUPPORTED_VERSION
from elysium.ws.envelope import Leave as Leave
from elysium.ws.envelope import Ping as Ping
from elysium.ws.envelope import ProtocolViolation as ProtocolViolation
from elysium.ws.envelope import decode_ping, integer, unknown_type, unpack_client
from elysium.ws.envelope import error as error
from elysium.ws.envelope import pack as pack
from elysium.ws.envelope import pong as pong
from elysium.ws.play import ALREADY_JOINED as ALREADY_JOINED
from elysium.ws.play import BANNED as BANNED
from elysium.ws.play import JOIN_REJECTED as JOIN_REJECTED
from elysium.ws.play import NOT_IN_ROSTER as NOT_IN_ROSTER
from elysium.ws.play import NOT_JOINED as NOT_JOINED
from elysium.ws.play import RESUME_REJECTED as RESUME_REJECTED
from elysium.ws.play import ROOM_CLOSED as ROOM_CLOSED
from elysium.ws.play import ROOM_FULL as ROOM_FULL
from elysium.ws.play import TOKEN_REJECTED as TOKEN_REJECTED
from elysium.ws.play import TOKEN_REUSED as TOKEN_REUSED
from elysium.ws.play import WRONG_SERVER as WRONG_SERVER
from elysium.ws.play import count_new as count_new
from elysium.ws.play import seq_after as seq_after

MAX_CLIENT_MESSAGE_BYTES: Final = 4096  # the default of ELYSIUM_MAX_MESSAGE_BYTES
MAX_INPUTS_PER_MESSAGE: Final = 16
MAX_SEQ: Final = MAX_ID
MAX_TOKEN_CHARS: Final = 2048
MAX_RESUME_CHARS: Final = 64
MAX_MAP_KEYS: Final = 16
MAX_CHOICE_KEYS: Final = 8
MAX_ARRAY_ITEMS: Final = MAX_INPUTS_PER_MESSAGE * 5 + 16

# Quantisation used in keyframes and deltas.
POSITION_SCALE: Final = 100  # 1 unit on the wire = 1 cm
ANGLE_SCALE: Final = 1000  # 1 unit on the wire = 1 mrad


# --- client to server -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Join:
    token: str | None
    resume: str | None
    version: int
    # What the player picks for a mode that asks (``join_choice``: a team, a loadout); checked
    # against the room's mode when the seat is granted.
    choice: dict[str, int | float | bool | str] | None = None


class Input(NamedTuple):
    """One input: a named tuple because thousands are decoded per second."""

    seq: int
    move_x: float  # -1..1, scaled by the mode's top speed
    move_y: float
    aim: float  # radians, -pi..pi
    fire: bool


IDLE_INPUT: Final = Input(0, 0.0, 0.0, 0.0, False)


# A decoded input row of the room's mode: a named tuple of its schema's row type, seq first.
InputRow = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Inputs:
    inputs: tuple[InputRow, ...]


@dataclass(frozen=True, slots=True)
class Chat:
    """Team chat: ``text`` goes to the sender's team mates (everyone in a mode without teams)."""

    text: Any  # checked by elysium.chat.check_text, with the chat codes
    id: int | None  # echoed as ``ref`` in an error that answers it


ClientMessage = Join | Inputs | Ping | Leave | Chat


def _unpack(data: bytes, max_bytes: int) -> dict[Any, Any]:
    # Strings are bounded by the message size; each field's own limit is checked by name.
    return unpack_client(data, max_bytes, max_str_len=max_bytes, max_array_len=MAX_ARRAY_ITEMS,
                         max_map_len=MAX_MAP_KEYS)


# Protocol v1's input row, [seq, move_x, move_y, aim, fire]: the arena's input schema, and the
# schema a message is decoded with when no room's schema is given (before a join).
V1_INPUT: Final = InputSchema((
    FloatField("move_x", lo=-1.0, hi=1.0),  # -1..1, scaled by the mode's top speed
    FloatField("move_y", lo=-1.0, hi=1.0),
    FloatField("aim", lo=-math.pi - 1e-6, hi=math.pi + 1e-6),  # radians, a little slack for rounding
    BoolField("fire", hold=False, latch=True),  # not repeated; a shot waiting behind a newer input is kept
), row_type=Input)


def decode_client(data: bytes, max_bytes: int = MAX_CLIENT_MESSAGE_BYTES,
                  schema: InputSchema = V1_INPUT) -> ClientMessage:
    """Decode one client message of at most ``max_bytes`` or raise :class:`ProtocolViolation`.

    ``input`` rows are decoded against ``schema``, the room's mode's input schema.
    """
    msg = _unpack(data, max_bytes)
    kind = msg.get("t")
    if kind == "input":
        return Inputs(schema.decode_rows(msg.get("i"), MAX_INPUTS_PER_MESSAGE))
    if kind == "ping":
        return decode_ping(msg)
    if kind == "join":
        version = msg.get("v")
        if type(version) is not int:  # missing, a string ("1"), a float, a boolean
            raise ProtocolViolation(UNSUPPORTED_VERSION, f"join needs v, the integer {PROTOCOL_VERSION}")
        token, resume = msg.get("token"), msg.get("resume")
        if (token is None) == (resume is None):
            raise ProtocolViolation(BAD_FIELD, "join needs exactly one of token or resume")
        for name, value, limit in (("token", token, MAX_TOKEN_CHARS), ("resume", resume, MAX_RESUME_CHARS)):
            if value is not None and (not isinstance(value, str) or not value):
                raise ProtocolViolation(BAD_FIELD, f"{name} must be a non-empty string")
            if isinstance(value, str) and len(value) > limit:
                raise ProtocolViolation(BAD_FIELD, f"{name} must be at most {limit} characters")
        return Join(token, resume, version, _choice(msg.get("choice")))
    if kind == "leave":
        return Leave()
    if kind == "chat":
        ident = msg.get("id")
        return Chat(msg.get("text"), None if ident is None else integer(ident, "id", 0, MAX_ID))
    raise unknown_type(kind, "join, input, ping, chat or leave")


def _choice(raw: Any) -> dict[str, int | float | bool | str] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or len(raw) > MAX_CHOICE_KEYS:
        raise ProtocolViolation(BAD_FIELD, f"choice must be a map of at most {MAX_CHOICE_KEYS} names to values")
    for key, value in raw.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 32:
            raise ProtocolViolation(BAD_FIELD, "choice names are strings of 1 to 32 characters")
        if isinstance(value, float) and not math.isfinite(value):
            raise ProtocolViolation(BAD_FIELD, f"choice.{key} must be finite")
        if not isinstance(value, (int, float, bool, str)) or (isinstance(value, str) and len(value) > 32):
            raise ProtocolViolation(BAD_FIELD, f"choice.{key} must be a number, a boolean or a short string")
    return raw


def decode_inputs_fast(data: bytes, schema: InputSchema = V1_INPUT) -> tuple[InputRow, ...] | None:
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
    decode = schema.decode_row
    try:
        return (decode(rows[0]),) if len(rows) == 1 else tuple(map(decode, rows))
    except ProtocolViolation:
        return None


# --- server to client -----------------------------------------------------------------

def chat(*, seat: int, player: str, name: str, team: int | None, text: str, ts_ms: int) -> bytes:
    """A team chat line: ``team`` is the team it went to (None: every player, in a mode without teams)."""
    return pack({"t": "chat", "from": seat, "id": player, "name": name, "team": team, "text": text, "ts": ts_ms})


def shutdown(reason: str) -> bytes:
    return pack({"t": "shutdown", "reason": reason})
