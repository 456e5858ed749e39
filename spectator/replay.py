"""Replays: one watcher's own cursor through a feed, for finished matches and seeks (``from=``)."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING

from elysium.feeds import FeedEntry, FeedId, FeedUnavailable
from elysium.ws import frames
from spectator import protocol as sp
from spectator.fanout import close_after, deliver
from spectator.feed import Entry, FeedDecoder

if TYPE_CHECKING:
    from spectator.connection import Watcher
    from spectator.live import RelayContext

log = logging.getLogger(__name__)

SEEK_PAGE = 500
REPLAY_PAGE = 100
REPLAY_POLL_S = 0.5


class Replay:
    """One watcher's own cursor through a feed, from the keyframe at or before ``from_tick``.

    Entries are played at the pace they were written (times ``speed``); an entry is never sent before it is
    ``min_delay_s`` old (a seek into a live match of a competitive mode).
    """

    def __init__(self, ctx: RelayContext, watcher: Watcher, match_id: str, from_tick: int, min_delay_s: float,
                 speed: float = 1.0) -> None:
        self.speed = speed
        self.ctx = ctx
        self.watcher = watcher
        self.match_id = match_id
        self.from_tick = from_tick
        self.min_delay_s = min_delay_s
        self.decoder = FeedDecoder(match_id)
        self.ahead: deque[Entry] = deque()
        self.last_id: FeedId | None = None  # the last id read (None: from the first entry)
        self.task: asyncio.Task[None] | None = None

    async def seek(self) -> list[Entry]:
        """The entries from the start point through ``from_tick`` (and at least ``min_delay_s`` old).

        Empty when the start itself is too young: it then waits in ``ahead`` like the rest.
        """
        feeds = self.ctx.feeds
        limit = self.ctx.feed_now() - self.min_delay_s
        whole = await feeds.untrimmed(self.match_id)
        first = True
        pending: list[Entry] = []  # from the latest start with tick <= from_tick
        while True:
            page = await feeds.range_after(self.match_id, self.last_id, SEEK_PAGE)
            if page.last_id is None:
                break
            for n, item in enumerate(page.entries):
                self.last_id = item.id
                entry = self.decoder.decode(item, origin=first and whole)
                first = False
                if pending and (entry.tick > self.from_tick or entry.at > limit):
                    self._keep_ahead(entry, page.entries[n + 1:], page.last_id)
                    return pending
                if entry.start and entry.at > limit:
                    # The only start is younger than the minimum delay: play it when it is due.
                    self._keep_ahead(entry, page.entries[n + 1:], page.last_id)
                    return []
                if entry.start:
                    pending = [entry]
                elif pending:
                    pending.append(entry)
                if entry.terminal:
                    return pending
            self.last_id = page.last_id
        if not pending:
            raise sp.WatchRefused(sp.SEEK_OUT_OF_RANGE, "no keyframe at or before that tick is still held")
        return pending

    def _keep_ahead(self, entry: Entry, rest: Iterable[FeedEntry], last_id: FeedId) -> None:
        self.ahead.append(entry)
        self.ahead.extend(self.decoder.decode(later) for later in rest)
        self.last_id = last_id

    async def play(self, catch_up: list[Entry]) -> None:
        """Write ``catch_up`` at once, then every later entry at its pace."""
        w = self.watcher
        loop = asyncio.get_running_loop()
        settings, metrics = self.ctx.settings, self.ctx.metrics
        anchor_loop, anchor_at = loop.time(), (catch_up[-1] if catch_up else self.ahead[0]).at
        if catch_up:
            w.write(b"".join(e.framed for e in catch_up))
            if catch_up[-1].terminal:
                close_after((w,), catch_up[-1])
                return
        heard = loop.time()
        try:
            while w.open:
                if not self.ahead:
                    page = await self.ctx.feeds.range_after(self.match_id, self.last_id, REPLAY_PAGE)
                    self.ahead.extend(self.decoder.decode(item) for item in page.entries)
                    if page.last_id is None:
                        if not await self.ctx.feeds.exists(self.match_id):
                            self._stream_ended("feed_lost", retry=False)
                            return
                        if loop.time() - heard >= settings.feed_stall_s:
                            self._stream_ended("feed_stalled", retry=False)
                            return
                        await asyncio.sleep(REPLAY_POLL_S)
                        continue
                    heard = loop.time()
                    self.last_id = page.last_id
                    if not self.ahead:
                        continue  # nothing well-formed in that page
                head = self.ahead[0]
                wait = max(anchor_loop + (head.at - anchor_at) / self.speed - loop.time(),
                           head.at + self.min_delay_s - self.ctx.feed_now())
                if wait > 0:
                    await asyncio.sleep(wait)
                now_loop, now_feed = loop.time(), self.ctx.feed_now()
                batch = []
                while self.ahead:
                    e = self.ahead[0]
                    due = anchor_loop + (e.at - anchor_at) / self.speed
                    if due > now_loop + 0.002 or e.at + self.min_delay_s > now_feed:
                        break
                    batch.append(self.ahead.popleft())
                if not batch:
                    continue
                terminal = deliver((w,), batch, metrics, self.ctx.slow_readers)
                if terminal is not None:
                    close_after((w,), terminal)
                    return
        except (FeedUnavailable, OSError) as exc:
            log.warning("replay read failed", extra={"match_id": self.match_id, "error": str(exc)})
            self._stream_ended("feed_unavailable", retry=True)

    def _stream_ended(self, reason: str, *, retry: bool) -> None:
        self.watcher.write(frames.frame_binary(sp.stream_ended(self.match_id, reason, retry)))
        self.watcher.finish(frames.CLOSE_INTERNAL, "stream ended")
