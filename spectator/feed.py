"""A match feed in memory: entries framed once, start points, trimming. Pure: no I/O, no clock.

The game server appends to a match's feed (:mod:`elysium.feeds`) one entry per message it
produced: ``k`` (keyframe), ``d`` (delta), ``e`` (events), ``end`` (the final keyframe,
after the end events). :class:`FeedDecoder` turns a kernel :class:`~elysium.feeds.FeedEntry`
(parsed and checked by the feed reader) into an :class:`Entry` whose
``framed`` bytes are the websocket frame(s) every watcher receives, built once.
:class:`FeedBuffer` holds a window of entries under absolute indices, knows where a watcher
may start (a keyframe, the final keyframe, or the very first entry of an untrimmed
stream, which starts from empty state) and forgets what no cursor needs any more.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import msgpack

from elysium.feeds import DELTA, END, EVENTS, KEYFRAME, KINDS, FeedEntry, id_time
from elysium.ws import frames
from spectator import protocol as sp

__all__ = ["DELTA", "END", "ENDED", "EVENTS", "GAP", "KEYFRAME", "KINDS", "TERMINAL", "Entry", "FeedBuffer",
           "FeedDecoder", "id_time", "marker"]

GAP = "gap"  # made by the relay: entries may be missing here (Redis trouble)
ENDED = "ended"  # made by the relay: the feed stopped without an end (notice inside)
TERMINAL = frozenset({END, ENDED})

_END_EVENT = b"\xa1k\xa3end"  # msgpack of "k": "end", found before decoding anything


@dataclass(slots=True)
class Entry:
    id: bytes  # the stream id, b"<ms>-<seq>"
    at: float  # seconds since the epoch: the time part of the stream id (Redis's clock)
    kind: str
    tick: int
    framed: bytes  # what is written to a watcher for this entry
    start: bool = False  # a watcher may begin here (keyframe, final keyframe, stream origin)

    @property
    def terminal(self) -> bool:
        return self.kind in TERMINAL


def marker(kind: str, at: float, framed: bytes = b"", tick: int = -1) -> Entry:
    return Entry(b"", at, kind, tick, framed, start=False)


class FeedDecoder:
    """Frames each feed entry once; remembers the end results to put in the ``end`` notice."""

    __slots__ = ("match_id", "results", "reason")

    def __init__(self, match_id: str) -> None:
        self.match_id = match_id
        self.results: list[Any] | None = None
        self.reason: str | None = None

    def decode(self, entry: FeedEntry, *, origin: bool = False) -> Entry:
        """The framed :class:`Entry`; ``origin``: the stream's first entry (a start from empty state)."""
        kind, data = entry.kind, entry.data
        if kind == EVENTS and _END_EVENT in data:
            self._note_end(data)
        framed = frames.frame_binary(data)
        if kind == END:
            framed += frames.frame_binary(sp.end(self.match_id, entry.tick, self.reason, self.results))
        return Entry(entry.id, entry.at, kind, entry.tick, framed, start=origin or kind in (KEYFRAME, END))

    def _note_end(self, data: bytes) -> None:
        try:
            msg = msgpack.unpackb(data, raw=False, strict_map_key=False)
        except (ValueError, msgpack.UnpackException):
            return
        for event in msg.get("e", ()) if isinstance(msg, dict) else ():
            if isinstance(event, dict) and event.get("k") == "end":
                self.reason = event.get("reason")
                self.results = event.get("results")


class FeedBuffer:
    """Entries of one match under absolute indices ``base .. end-1``."""

    __slots__ = ("entries", "base", "starts", "max_entries")

    def __init__(self, max_entries: int) -> None:
        self.entries: deque[Entry] = deque()
        self.base = 0
        self.starts: deque[int] = deque()  # absolute indices of start entries and gaps, ascending
        self.max_entries = max_entries

    @property
    def end(self) -> int:
        return self.base + len(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> Entry:
        return self.entries[index - self.base]

    def append(self, entry: Entry) -> None:
        if entry.start or entry.kind == GAP:
            self.starts.append(self.end)
        self.entries.append(entry)
        if len(self.entries) > self.max_entries:
            self.drop_before(self.base + len(self.entries) - self.max_entries)

    def prepend(self, older: list[Entry]) -> None:
        """Put ``older`` (oldest first, all older than what is held) in front."""
        for entry in reversed(older):
            self.base -= 1
            self.entries.appendleft(entry)
            if entry.start:
                self.starts.appendleft(self.base)

    def drop_before(self, index: int) -> None:
        index = min(index, self.end)
        while self.base < index:
            self.entries.popleft()
            self.base += 1
        while self.starts and self.starts[0] < index:
            self.starts.popleft()

    def start_at_or_before(self, index: int) -> int | None:
        """The latest start at or before ``index`` with no gap between, or None."""
        for pos in reversed(self.starts):
            if pos <= index:
                return None if self[pos].kind == GAP else pos
        return None

    def due_end(self, cursor: int, until: float) -> int:
        """The first index at or after ``cursor`` whose entry is later than ``until``."""
        i, end = max(cursor, self.base), self.end
        entries, base = self.entries, self.base
        while i < end and entries[i - base].at <= until:
            i += 1
        return i

    def first_after(self, at: float) -> int:
        """The first index whose entry is later than ``at`` (``end`` when none)."""
        return self.due_end(self.base, at)

    def slice(self, start: int, stop: int) -> list[Entry]:
        base = self.base
        entries = self.entries
        return [entries[i - base] for i in range(max(start, base), min(stop, self.end))]

    def trim(self, cursors: list[int]) -> None:
        """Forget entries no cursor needs: keep, for each cursor, the start it would resume from."""
        if not cursors:
            return
        keep = self.end
        for cursor in cursors:
            start = self.start_at_or_before(cursor - 1)
            keep = min(keep, start if start is not None else cursor)
        if keep > self.base:
            self.drop_before(keep)
