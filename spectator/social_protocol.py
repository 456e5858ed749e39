"""The social socket's protocol (``/v1/social``, version 1): what a player sends and what the relay
answers. No I/O here; ``docs/protocol.md`` (*Social socket*) is the reference.

The envelope is the kernel's (:mod:`elysium.ws.envelope`): one msgpack map per binary frame with
its type under ``"t"``, ``ping``/``pong``, ``leave`` and ``error`` (with ``ref``, the ``id`` of the
message it answers). A player sends ``hello`` first, then ``sub``, ``unsub``, ``say``, ``dm``,
``ping`` or ``leave``; the relay sends ``ready``, ``inbox``, ``history``, ``msg``, ``ack``,
``removed``, ``pong``, ``error`` and ``shutdown``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from elysium.chat import ChatMessage
from elysium.ws.envelope import BAD_FIELD, MAX_ID, PROTOCOL_VERSION, UNSUPPORTED_VERSION, Leave, Ping, \
    ProtocolViolation, decode_ping, integer, pack, unknown_type, unpack_client

SOCIAL_PATH: Final = "/v1/social"
MAX_TOKEN_CHARS: Final = 2048
MAX_PLAYER_CHARS: Final = 64

# Stable codes of the social socket, beside the shared ones and the chat codes (elysium.chat).
NOT_AUTHENTICATED: Final = "not_authenticated"  # anything but hello (or ping) before ready
ALREADY_AUTHENTICATED: Final = "already_authenticated"
TOKEN_REJECTED: Final = "token_rejected"
NOT_SUBSCRIBED: Final = "not_subscribed"
REPLACED: Final = "replaced"  # another social socket of the same player took over
BANNED: Final = "banned"  # the account is banned (moderation)


@dataclass(frozen=True, slots=True)
class Hello:
    token: str


@dataclass(frozen=True, slots=True)
class Subscribe:
    ch: str
    id: int | None


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    ch: str
    id: int | None


@dataclass(frozen=True, slots=True)
class Say:
    ch: str
    text: Any  # checked by elysium.chat.check_text, with the chat codes
    id: int | None


@dataclass(frozen=True, slots=True)
class Direct:
    to: str
    text: Any
    id: int | None


SocialMessage = Hello | Subscribe | Unsubscribe | Say | Direct | Ping | Leave


def _ref(msg: dict[Any, Any]) -> int | None:
    raw = msg.get("id")
    return None if raw is None else integer(raw, "id", 0, MAX_ID)


def _string(msg: dict[Any, Any], name: str, limit: int) -> str:
    value = msg.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ProtocolViolation(BAD_FIELD, f"{name} must be a string of 1 to {limit} characters")
    return value


def message_ref(data: bytes) -> int | None:
    """The ``id`` of a message that failed to decode, when it has a readable one (for ``ref``)."""
    try:
        msg = unpack_client(data, 65536, max_str_len=65536, max_array_len=16, max_map_len=16)
        return _ref(msg)
    except ProtocolViolation:
        return None


def decode_social(data: bytes, max_bytes: int, max_chars: int) -> SocialMessage:
    """Strictly decode one message of a social socket or raise :class:`ProtocolViolation`."""
    msg = unpack_client(data, max_bytes, max_str_len=max(max_chars * 4, MAX_TOKEN_CHARS), max_array_len=16,
                        max_map_len=16)
    kind = msg.get("t")
    if kind == "say":
        return Say(_string(msg, "ch", 140), msg.get("text"), _ref(msg))
    if kind == "dm":
        return Direct(_string(msg, "to", MAX_PLAYER_CHARS), msg.get("text"), _ref(msg))
    if kind == "sub":
        return Subscribe(_string(msg, "ch", 140), _ref(msg))
    if kind == "unsub":
        return Unsubscribe(_string(msg, "ch", 140), _ref(msg))
    if kind == "ping":
        return decode_ping(msg)
    if kind == "hello":
        if type(msg.get("v")) is not int or msg["v"] != PROTOCOL_VERSION:
            raise ProtocolViolation(UNSUPPORTED_VERSION, f"hello needs v, the integer {PROTOCOL_VERSION}")
        return Hello(_string(msg, "token", MAX_TOKEN_CHARS))
    if kind == "leave":
        return Leave()
    raise unknown_type(kind, "hello, sub, unsub, say, dm, ping or leave")


# --- what the relay sends -------------------------------------------------------------------


def ready(player: str, name: str, *, max_chars: int, messages_per_window: int, window_s: int) -> bytes:
    return pack({"t": "ready", "v": PROTOCOL_VERSION, "player": player, "name": name,
                 "limits": {"max_chars": max_chars, "messages_per_window": messages_per_window,
                            "window_s": window_s}})


def inbox(messages: list[ChatMessage]) -> bytes:
    return pack({"t": "inbox", "msgs": [m.to_wire() for m in messages]})


def history(ch: str, messages: list[ChatMessage], ref: int | None) -> bytes:
    out: dict[str, Any] = {"t": "history", "ch": ch, "msgs": [m.to_wire() for m in messages]}
    if ref is not None:
        out["ref"] = ref
    return pack(out)


def ack(ref: int | None, **fields: Any) -> bytes:
    out: dict[str, Any] = {"t": "ack", **fields}
    if ref is not None:
        out["ref"] = ref
    return pack(out)


def removed(ch: str) -> bytes:
    return pack({"t": "removed", "ch": ch})


# --- what a client sends (clients, tests, the benchmark) -------------------------------------


def encode_hello(token: str) -> bytes:
    return pack({"t": "hello", "v": PROTOCOL_VERSION, "token": token})


def encode_sub(ch: str, ident: int | None = None) -> bytes:
    return pack({"t": "sub", "ch": ch, **({} if ident is None else {"id": ident})})


def encode_unsub(ch: str, ident: int | None = None) -> bytes:
    return pack({"t": "unsub", "ch": ch, **({} if ident is None else {"id": ident})})


def encode_say(ch: str, text: str, ident: int | None = None) -> bytes:
    return pack({"t": "say", "ch": ch, "text": text, **({} if ident is None else {"id": ident})})


def encode_dm(to: str, text: str, ident: int | None = None) -> bytes:
    return pack({"t": "dm", "to": to, "text": text, **({} if ident is None else {"id": ident})})
