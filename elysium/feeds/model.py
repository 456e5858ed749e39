"""The feed's data: entry kinds, entries, pages, match descriptions. Pure: no I/O, no clock.

An entry is what one room tick put in the feed: its ``kind`` (:data:`KEYFRAME`,
:data:`DELTA`, :data:`EVENTS`, or :data:`END`, the final keyframe after the end events),
the ``tick`` it belongs to and ``data``, the exact msgpack bytes the players received. Its
``id`` (``b"<ms>-<seq>"``) orders the feed; its time part is the writer's store clock.

:class:`MatchInfo` describes a match for listings and for a watcher's hello. It is stored
as one JSON value per field (:meth:`MatchInfo.fields`); :meth:`MatchInfo.parse` reads it
back, keeping only fields of the expected type, so a description from an older writer
(without ``columns`` and ``map``, say) still parses, with those fields None.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, NewType, cast

FeedKind = Literal["k", "d", "e", "end"]
KEYFRAME: Final = "k"
DELTA: Final = "d"
EVENTS: Final = "e"
END: Final = "end"
KINDS: Final[frozenset[str]] = frozenset({KEYFRAME, DELTA, EVENTS, END})

FeedId = NewType("FeedId", bytes)  # b"<ms>-<seq>": ordered by (ms, seq)

RawEntry = tuple[bytes, Mapping[bytes, bytes]]  # an id and the stored fields k, n, b


class BadFeedEntry(ValueError):
    """A stored entry that is not a feed entry (missing field, unknown kind, bad tick or id)."""


def id_time(entry_id: bytes) -> float:
    """Seconds since the epoch: the time part of an entry id."""
    return int(entry_id.split(b"-", 1)[0]) / 1000.0


def id_order(entry_id: bytes) -> tuple[int, int]:
    ms, _, seq = entry_id.partition(b"-")
    return int(ms), int(seq or b"0")


def id_after(entry_id: bytes) -> FeedId:
    """The smallest id after ``entry_id``: reading before it reads ``entry_id`` too."""
    ms, seq = id_order(entry_id)
    return FeedId(b"%d-%d" % (ms, seq + 1))


@dataclass(frozen=True, slots=True)
class FeedEntry:
    id: FeedId
    at: float  # seconds since the epoch, from the id
    kind: FeedKind
    tick: int
    data: bytes

    @classmethod
    def parse(cls, entry_id: bytes, fields: Mapping[bytes, bytes]) -> FeedEntry:
        """The entry stored as ``fields`` (``k``, ``n``, ``b``) under ``entry_id``; strict."""
        try:
            kind = fields[b"k"].decode()
            tick = int(fields[b"n"])
            data = fields[b"b"]
            at = id_time(entry_id)
            id_order(entry_id)
        except (KeyError, ValueError, UnicodeDecodeError) as exc:
            raise BadFeedEntry(f"malformed feed entry {entry_id[:32]!r}") from exc
        if kind not in KINDS:
            raise BadFeedEntry(f"unknown feed entry kind {kind[:16]!r}")
        return cls(FeedId(bytes(entry_id)), at, cast(FeedKind, kind), tick, bytes(data))

    def fields(self) -> dict[bytes, bytes]:
        """The stored form :meth:`parse` reads."""
        return {b"k": self.kind.encode(), b"n": str(self.tick).encode(), b"b": self.data}


@dataclass(frozen=True, slots=True)
class FeedPage:
    """Entries read in one go, oldest first, malformed ones left out (and counted)."""

    entries: tuple[FeedEntry, ...]
    last_id: FeedId | None  # the last id read in read order, malformed entries included; None: nothing read
    bad: int = 0  # malformed entries skipped
    full: bool = False  # as many entries as asked for were there: the range may go on

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def of(cls, raw: Sequence[RawEntry], count: int, *, newest_first: bool = False) -> FeedPage:
        """Parse stored entries (in the order read; ``newest_first`` for a backwards read)."""
        entries: list[FeedEntry] = []
        bad = 0
        for entry_id, fields in raw:
            try:
                entries.append(FeedEntry.parse(entry_id, fields))
            except BadFeedEntry:
                bad += 1
        if newest_first:
            entries.reverse()
        last = FeedId(bytes(raw[-1][0])) if raw else None
        return cls(tuple(entries), last, bad, len(raw) >= count)


def _typed(value: Any, kind: type | tuple[type, ...]) -> Any:
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        return None
    return value if isinstance(value, kind) else None


def _delay(value: Any) -> float | None:
    number = _typed(value, (int, float))
    return float(number) if number is not None and 0 <= number <= 86400 else None


_STATIC_FIELDS = frozenset(("columns", "map", "input", "options"))  # the same for the whole match


@dataclass(frozen=True, slots=True)
class MatchInfo:
    """A match as listings and a watcher's hello describe it (``elysium:match:{id}``)."""

    match_id: str
    mode: str | None = None
    server_id: str | None = None
    state: str | None = None  # waiting, running, finished (the room's state)
    tick: int | None = None
    tick_hz: int | None = None
    players: tuple[dict[str, Any], ...] = ()  # {seat, id, name, team, score}
    started_at_us: int | None = None
    updated_at_ms: int | None = None
    end_reason: str | None = None
    columns: dict[str, Any] | None = None  # the mode's column layout, as a player's welcome has it
    map_info: dict[str, Any] | None = None  # the mode's map, without the per-match limits
    # The least delay the match's mode asks relays to hold its feed back by (hidden information).
    min_delay_s: float | None = None
    input: dict[str, Any] | None = None  # the mode's input schema, as a player's welcome has it
    options: dict[str, Any] | None = None  # the match's option values, as a player's welcome has them

    def fields(self, encoded: dict[str, tuple[Any, str]] | None = None) -> dict[str, str]:
        """One JSON value per field; ``columns``, ``map``, ``input`` and ``options`` only when known.

        ``encoded`` carries the JSON of those four from an earlier call for the same match:
        a value that is the very object encoded then (``is``, the object kept alive in
        ``encoded``) is not encoded again. A writer describing a match every few seconds
        passes the same objects each time and encodes them once.
        """
        out: dict[str, Any] = {
            "match_id": self.match_id, "mode": self.mode, "server_id": self.server_id, "state": self.state,
            "tick": self.tick, "tick_hz": self.tick_hz, "players": list(self.players),
            "started_at_us": self.started_at_us, "updated_at_ms": self.updated_at_ms, "end_reason": self.end_reason,
        }
        if self.columns is not None:
            out["columns"] = self.columns
        if self.map_info is not None:
            out["map"] = self.map_info
        if self.min_delay_s is not None:
            out["min_delay_s"] = self.min_delay_s
        if self.input is not None:
            out["input"] = self.input
        if self.options is not None:
            out["options"] = self.options
        if encoded is None:
            return {name: json.dumps(value, separators=(",", ":")) for name, value in out.items()}
        fields: dict[str, str] = {}
        for name, value in out.items():
            if name in _STATIC_FIELDS:
                known = encoded.get(name)
                if known is None or known[0] is not value:
                    known = encoded[name] = (value, json.dumps(value, separators=(",", ":")))
                fields[name] = known[1]
            else:
                fields[name] = json.dumps(value, separators=(",", ":"))
        return fields

    @classmethod
    def parse(cls, match_id: str, raw: Mapping[bytes, bytes] | Mapping[str, str]) -> MatchInfo:
        """Read :meth:`fields` back; a field that is missing, not JSON or of the wrong type is None."""
        values: dict[str, Any] = {}
        for key, value in raw.items():
            try:
                name = key.decode() if isinstance(key, bytes) else key
                values[name] = json.loads(value)
            except (ValueError, UnicodeDecodeError):
                continue
        players = values.get("players")
        return cls(
            match_id=match_id,
            mode=_typed(values.get("mode"), str),
            server_id=_typed(values.get("server_id"), str),
            state=_typed(values.get("state"), str),
            tick=_typed(values.get("tick"), int),
            tick_hz=_typed(values.get("tick_hz"), int),
            players=tuple(p for p in players if isinstance(p, dict)) if isinstance(players, list) else (),
            started_at_us=_typed(values.get("started_at_us"), int),
            updated_at_ms=_typed(values.get("updated_at_ms"), int),
            end_reason=_typed(values.get("end_reason"), str),
            columns=_typed(values.get("columns"), dict),
            map_info=_typed(values.get("map"), dict),
            min_delay_s=_delay(values.get("min_delay_s")),
            input=_typed(values.get("input"), dict),
            options=_typed(values.get("options"), dict),
        )


@dataclass(frozen=True, slots=True)
class ListedMatch:
    match_id: str
    info: MatchInfo
    has_feed: bool  # its feed still exists (a finished match is then replayable)


@dataclass(frozen=True, slots=True)
class MatchList:
    """Newest first: matches described as live, and matches described as over."""

    live: tuple[ListedMatch, ...]
    finished: tuple[ListedMatch, ...]
