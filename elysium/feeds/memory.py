"""Match feeds in one process's memory, with the semantics of the Redis ones.

For tests and single-process use: a :class:`MemoryFeeds` store hands out writers and
readers that share it. Ids increase per feed (``<ms>-<seq>`` on the store's clock, as
Redis makes them); a blocking read wakes when an entry is appended; a feed is trimmed to
``maxlen`` in chunks of a tenth, as Redis's approximate trimming does; describing a match
as over moves it from the live listing to the finished one, which forgets matches after
``retention_s``. Expiry is a no-op: feeds and descriptions stay until :meth:`MemoryFeeds.delete`.
The writer applies its buffer when kicked (there is no network to wait for) and has no
failure mode, so ``errors`` stays 0.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from elysium.feeds.buffer import BufferedFeedWriter
from elysium.feeds.model import FeedEntry, FeedId, FeedKind, FeedPage, ListedMatch, MatchInfo, MatchList, id_order


@dataclass(slots=True)
class _Feed:
    entries: list[FeedEntry] = field(default_factory=list)
    orders: list[tuple[int, int]] = field(default_factory=list)  # the entries' ids, parsed, for bisecting
    added: int = 0
    last: tuple[int, int] = (0, 0)


class MemoryFeeds:
    def __init__(self, maxlen: int = 50_000, retention_s: int = 3600, clock: Callable[[], float] = time.time) -> None:
        self.maxlen = maxlen
        self.retention_s = retention_s
        self.clock = clock
        self.feeds: dict[str, _Feed] = {}
        self.infos: dict[str, dict[str, str]] = {}  # the stored form, MatchInfo.fields()
        self.live: dict[str, int] = {}  # match id -> last update (ms)
        self.done: dict[str, int] = {}
        # Blocking reads waiting for a feed to grow: one event per feed, set (and dropped) on append.
        self._appended: dict[str, tuple[asyncio.Event, int]] = {}

    def writer(self) -> MemoryFeedWriter:
        return MemoryFeedWriter(self)

    def reader(self) -> MemoryFeedReader:
        return MemoryFeedReader(self)

    def add(self, match_id: str, kind: FeedKind, tick: int, data: bytes) -> FeedEntry:
        feed = self.feeds.get(match_id)
        if feed is None:
            feed = self.feeds[match_id] = _Feed()
        ms = int(self.clock() * 1000)
        order = (ms, 0) if ms > feed.last[0] else (feed.last[0], feed.last[1] + 1)
        entry = FeedEntry(FeedId(f"{order[0]}-{order[1]}".encode()), order[0] / 1000.0, kind, tick, data)
        feed.entries.append(entry)
        feed.orders.append(order)
        feed.last = order
        feed.added += 1
        if len(feed.entries) > self.maxlen + self.maxlen // 10:
            cut = len(feed.entries) - self.maxlen
            del feed.entries[:cut], feed.orders[:cut]
        self._wake(match_id)
        return entry

    def set_info(self, match_id: str, info: MatchInfo, live: bool) -> None:
        self.infos.setdefault(match_id, {}).update(info.fields())
        now_ms = int(self.clock() * 1000)
        if live:
            self.live[match_id] = now_ms
        else:
            self.live.pop(match_id, None)
            self.done[match_id] = now_ms
            horizon = now_ms - self.retention_s * 1000
            for gone in [m for m, at in self.done.items() if at <= horizon]:
                del self.done[gone]

    def delete(self, match_id: str) -> None:
        """The feed is gone (what expiry does in Redis)."""
        self.feeds.pop(match_id, None)
        self._wake(match_id)

    def _wake(self, match_id: str) -> None:
        waiting = self._appended.pop(match_id, None)
        if waiting is not None:
            waiting[0].set()

    async def wait_appended(self, match_id: str, timeout_s: float) -> None:
        """Until an entry is appended to ``match_id``'s feed (or it is deleted), at most ``timeout_s``."""
        event, waiters = self._appended.get(match_id, (asyncio.Event(), 0))
        self._appended[match_id] = (event, waiters + 1)
        try:
            await asyncio.wait_for(event.wait(), timeout_s)
        except TimeoutError:
            pass
        finally:
            current = self._appended.get(match_id)
            if current is not None and current[0] is event:
                if current[1] <= 1:
                    del self._appended[match_id]
                else:
                    self._appended[match_id] = (event, current[1] - 1)


class MemoryFeedWriter(BufferedFeedWriter):
    def __init__(self, store: MemoryFeeds) -> None:
        super().__init__()
        self.store = store

    def kick(self) -> None:
        entries, infos = self.take()
        for match_id, kind, tick, data in entries:
            self.store.add(match_id, kind, tick, data)
        for match_id, (info, live) in infos.items():
            self.store.set_info(match_id, info, live)

    async def drain(self, timeout_s: float = 5.0) -> None:
        self.kick()


class MemoryFeedReader:
    def __init__(self, store: MemoryFeeds) -> None:
        self.store = store

    def _after(self, match_id: str, after: FeedId | None, count: int) -> FeedPage:
        feed = self.store.feeds.get(match_id)
        if feed is None:
            return FeedPage((), None)
        start = 0 if after is None else bisect.bisect_right(feed.orders, id_order(after))
        entries = tuple(feed.entries[start:start + count])
        return FeedPage(entries, entries[-1].id if entries else None, 0, len(entries) >= count)

    async def newest(self, match_id: str) -> FeedEntry | None:
        feed = self.store.feeds.get(match_id)
        return feed.entries[-1] if feed is not None and feed.entries else None

    async def read_after(self, match_id: str, after: FeedId | None, count: int, block_s: float) -> FeedPage:
        page = self._after(match_id, after, count)
        if page.entries or block_s <= 0:
            return page
        await self.store.wait_appended(match_id, block_s)
        return self._after(match_id, after, count)

    async def range_after(self, match_id: str, after: FeedId | None, count: int) -> FeedPage:
        return self._after(match_id, after, count)

    async def range_before(self, match_id: str, before: FeedId | None, count: int) -> FeedPage:
        feed = self.store.feeds.get(match_id)
        if feed is None:
            return FeedPage((), None)
        stop = len(feed.entries) if before is None else bisect.bisect_left(feed.orders, id_order(before))
        entries = tuple(feed.entries[max(0, stop - count):stop])
        return FeedPage(entries, entries[0].id if entries else None, 0, len(entries) >= count)

    async def untrimmed(self, match_id: str) -> bool:
        feed = self.store.feeds.get(match_id)
        return feed is not None and feed.added == len(feed.entries)

    async def exists(self, match_id: str) -> bool:
        return match_id in self.store.feeds

    async def info(self, match_id: str) -> MatchInfo | None:
        raw = self.store.infos.get(match_id)
        return MatchInfo.parse(match_id, raw) if raw else None

    def _listed(self, scores: dict[str, int], limit: int) -> tuple[ListedMatch, ...]:
        newest = sorted(scores, key=lambda m: (scores[m], m), reverse=True)[:limit]
        return tuple(ListedMatch(m, MatchInfo.parse(m, self.store.infos[m]), m in self.store.feeds)
                     for m in newest if m in self.store.infos)

    async def matches(self, limit: int) -> MatchList:
        return MatchList(self._listed(self.store.live, limit), self._listed(self.store.done, limit))

    async def newest_live(self) -> str | None:
        live = self.store.live
        return max(live, key=lambda m: (live[m], m)) if live else None
