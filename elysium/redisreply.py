"""Typed readers for redis-py replies.

redis-py types most replies loosely (``bytes | str``, unions of list shapes, ``Any`` for
scripts and pipelines). Each reader here takes one reply as it came back, checks its shape
with a few ``isinstance`` tests, and returns it as one precise type, so callers need no
``cast``. Our clients run with ``decode_responses=False``: strings arrive as ``bytes``; a
``str`` is accepted too, so a reader works with either client setting.

A reply of another shape raises :class:`ReplyShapeError`: that is a bug on our side (the
wrong reader for the command, or a script that changed), never the peer's fault.

Usage::

    fields = redisreply.text_map(await client.hgetall(key))
    ids = redisreply.texts(await client.zrange(key, 0, -1))
    kind, ticket_id = redisreply.script_texts(await script(keys=[...], args=[...]))
"""

from __future__ import annotations

from collections.abc import Mapping

StreamEntry = tuple[bytes, dict[bytes, bytes]]
"""One stream entry: its id and its fields, as raw bytes."""
StreamEntries = list[StreamEntry]
"""What XRANGE and XREVRANGE return."""
StreamReads = list[tuple[bytes, StreamEntries]]
"""What XREAD and XREADGROUP return: (stream name, entries) per stream with news."""


class ReplyShapeError(TypeError):
    """A Redis reply did not have the shape its reader expects."""

    def __init__(self, want: str, got: object) -> None:
        super().__init__(f"redis reply: expected {want}, got {type(got).__name__}: {got!r:.80}")


def _str(value: object, want: str) -> str:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, str):
        return value
    raise ReplyShapeError(want, value)


def _bytes(value: object, want: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    raise ReplyShapeError(want, value)


def _list(value: object, want: str) -> list[object] | tuple[object, ...]:
    if isinstance(value, (list, tuple)):
        return value
    raise ReplyShapeError(want, value)


# --- single values --------------------------------------------------------------------------

def text(value: object) -> str:
    """A bulk string (GET of a present key, one HGET field, a stream id) as text."""
    return _str(value, "a string")


def optional_text(value: object) -> str | None:
    """A bulk string or nil (GET, HGET) as text or None."""
    return None if value is None else _str(value, "a string or nil")


def blob(value: object) -> bytes:
    """A bulk string as raw bytes."""
    return _bytes(value, "a string")


def optional_blob(value: object) -> bytes | None:
    """A bulk string or nil as raw bytes or None."""
    return None if value is None else _bytes(value, "a string or nil")


def integer(value: object) -> int:
    """An integer reply, or a string holding one (a counter read back with GET/HGET)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, (bytes, str)):
        try:
            return int(value)
        except ValueError:
            pass
    raise ReplyShapeError("an integer", value)


# --- arrays ---------------------------------------------------------------------------------

def texts(value: object) -> list[str]:
    """An array of bulk strings (ZRANGE without scores, SMEMBERS, LRANGE, KEYS) as text."""
    return [_str(v, "an array of strings") for v in _list(value, "an array")]


def optional_texts(value: object) -> list[str | None]:
    """An array of bulk strings or nils (HMGET, MGET) as text or None."""
    return [None if v is None else _str(v, "an array of strings or nils") for v in _list(value, "an array")]


def optional_blobs(value: object) -> list[bytes | None]:
    """An array of bulk strings or nils (HMGET, MGET) as raw bytes or None."""
    return [None if v is None else _bytes(v, "an array of strings or nils") for v in _list(value, "an array")]


def integers(value: object) -> list[int]:
    """An array of integers (or of strings holding them): LRANGE of counters, a script's numbers."""
    return [integer(v) for v in _list(value, "an array")]


def scored(value: object) -> list[tuple[str, float]]:
    """ZRANGE ... WITHSCORES (and its relatives): (member, score) pairs, best first as asked."""
    out: list[tuple[str, float]] = []
    for pair in _list(value, "an array of (member, score)"):
        member, score = _pair(pair, "a (member, score) pair")
        if not isinstance(score, (int, float)) or isinstance(score, bool):
            raise ReplyShapeError("a numeric score", score)
        out.append((_str(member, "a member"), float(score)))
    return out


def _pair(value: object, want: str) -> tuple[object, object]:
    items = _list(value, want)
    if len(items) != 2:
        raise ReplyShapeError(want, value)
    return items[0], items[1]


# --- hashes ---------------------------------------------------------------------------------

def text_map(value: object) -> dict[str, str]:
    """HGETALL as text keys and values (empty when the key is missing)."""
    if not isinstance(value, Mapping):
        raise ReplyShapeError("a map", value)
    return {_str(k, "a field name"): _str(v, "a field value") for k, v in value.items()}


def blob_map(value: object) -> dict[bytes, bytes]:
    """HGETALL (or a stream entry's fields) as raw bytes keys and values."""
    if not isinstance(value, Mapping):
        raise ReplyShapeError("a map", value)
    return {_bytes(k, "a field name"): _bytes(v, "a field value") for k, v in value.items()}


def int_map(value: object) -> dict[str, int]:
    """HGETALL of counters: text keys, integer values."""
    if not isinstance(value, Mapping):
        raise ReplyShapeError("a map", value)
    return {_str(k, "a field name"): integer(v) for k, v in value.items()}


# --- streams --------------------------------------------------------------------------------

def stream_entries(value: object) -> StreamEntries:
    """XRANGE / XREVRANGE: (id, fields) per entry; nil reads as no entries."""
    if value is None:
        return []
    out: StreamEntries = []
    for entry in _list(value, "an array of stream entries"):
        entry_id, fields = _pair(entry, "an (id, fields) stream entry")
        # a pending entry whose data was trimmed away comes back with nil fields
        out.append((_bytes(entry_id, "a stream id"), {} if fields is None else blob_map(fields)))
    return out


def stream_reads(value: object) -> StreamReads:
    """XREAD / XREADGROUP: (stream, entries) per stream; nil (a block that timed out) reads as none.

    RESP2 replies are an array of pairs, RESP3 replies a map; both are accepted.
    """
    if value is None:
        return []
    pairs = value.items() if isinstance(value, Mapping) else (_pair(p, "a (stream, entries) pair")
                                                              for p in _list(value, "an array of streams"))
    out: StreamReads = []
    for name, entries in pairs:
        out.append((_bytes(name, "a stream name"), stream_entries(entries)))
    return out


def stream_counts(value: object) -> dict[str, int]:
    """XINFO STREAM: its counters (``length``, ``entries-added``, ``groups`` ...) by name.

    The fields that are not integers (the first and last entries, the ids) are left out.
    """
    if not isinstance(value, Mapping):
        raise ReplyShapeError("a map", value)
    return {_str(k, "a field name"): v for k, v in value.items() if isinstance(v, int) and not isinstance(v, bool)}


def claimed_entries(value: object) -> StreamEntries:
    """XAUTOCLAIM: the entries it claimed.

    The reply is (next cursor, entries) before Redis 7 and (next cursor, entries, deleted ids)
    from Redis 7 on; only the entries are returned.
    """
    items = _list(value, "an XAUTOCLAIM reply")
    if len(items) not in (2, 3):
        raise ReplyShapeError("an XAUTOCLAIM reply of 2 or 3 items", value)
    return stream_entries(items[1])


# --- scripts --------------------------------------------------------------------------------

def script_text(value: object) -> str:
    """A Lua script's status word: a string, or a number (Lua numbers come back as integers)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _str(value, "a script's string or number")


def script_texts(value: object) -> list[str]:
    """A Lua script's array of strings or numbers, each as text."""
    return [script_text(v) for v in _list(value, "a script's array")]


def script_flags(value: object) -> list[bool]:
    """A Lua script's array of 0/1 answers, one per item it was given."""
    return [integer(v) != 0 for v in _list(value, "a script's array of 0/1")]


def each(value: object, count: int) -> list[object]:
    """A pipeline's or a transaction's replies, checked to be exactly ``count`` long.

    Each item is then read with the reader for its command.
    """
    items = _list(value, f"{count} replies")
    if len(items) != count:
        raise ReplyShapeError(f"{count} replies", value)
    return list(items)
