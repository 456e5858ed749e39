"""What a feed writer holds until its store takes it. Pure: no I/O.

Both writers (:class:`~elysium.feeds.redis_feed.RedisFeedWriter` and
:class:`~elysium.feeds.memory.MemoryFeedWriter`) are a :class:`BufferedFeedWriter` and add
only ``kick`` and ``drain``. The game server calls :meth:`~BufferedFeedWriter.append` once
per room tick, so it stays a length check and a deque append. At most
:data:`~elysium.feeds.ports.FEED_BUFFER_MAX` entries wait; past that the oldest go, counted
in ``dropped``. A flush :meth:`~BufferedFeedWriter.take`\\ s everything at once; a flush that
failed :meth:`~BufferedFeedWriter.put_back`\\ s it in front of what came meanwhile.
"""

from __future__ import annotations

from collections import deque
from itertools import islice

from elysium.feeds.model import FeedKind, MatchInfo
from elysium.feeds.ports import FEED_BUFFER_MAX

PendingEntry = tuple[str, FeedKind, int, bytes]  # match id, kind, tick, data
PendingInfos = dict[str, tuple[MatchInfo, bool]]  # match id -> (description, live); the last one wins


class BufferedFeedWriter:
    """The buffering half of :class:`~elysium.feeds.ports.MatchFeedWriter`."""

    def __init__(self) -> None:
        self.entries: deque[PendingEntry] = deque()
        self.infos: PendingInfos = {}
        self.dropped = 0
        self.errors = 0

    @property
    def pending(self) -> int:
        return len(self.entries)

    def append(self, match_id: str, kind: FeedKind, tick: int, data: bytes) -> None:
        entries = self.entries
        if len(entries) >= FEED_BUFFER_MAX:
            entries.popleft()
            self.dropped += 1
        entries.append((match_id, kind, tick, data))

    def describe(self, match_id: str, info: MatchInfo, live: bool) -> None:
        self.infos[match_id] = (info, live)

    def take(self) -> tuple[deque[PendingEntry], PendingInfos]:
        """Everything waiting, oldest first; the buffer starts over empty."""
        entries, self.entries = self.entries, deque()
        infos, self.infos = self.infos, {}
        return entries, infos

    def put_back(self, entries: deque[PendingEntry], infos: PendingInfos) -> None:
        """Return what :meth:`take` took (its write failed) in front of what came since.

        Entries keep their order; when the buffer fills, the oldest of them are dropped (and
        counted). A description given since wins over the one put back.
        """
        kept = max(0, min(len(entries), FEED_BUFFER_MAX - len(self.entries)))
        self.dropped += len(entries) - kept
        self.entries.extendleft(reversed(list(islice(entries, len(entries) - kept, None))))
        for match_id, value in infos.items():
            self.infos.setdefault(match_id, value)
