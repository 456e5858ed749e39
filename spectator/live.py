"""The live relay: one feed reader per match per process, shared by every watcher of that match.

:class:`MatchRelay` reads the match's feed (:mod:`elysium.feeds`) with blocking reads, frames each
entry once (:mod:`spectator.feed`) and keeps a short window in memory. Watchers who asked
for the same delay share a :class:`Channel`: a cursor into that window that releases
entries once they are ``delay`` old, writing the same bytes to every watcher's transport
(:func:`spectator.fanout.deliver`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import TYPE_CHECKING, Protocol

from elysium.feeds import FeedId, FeedUnavailable, MatchFeedReader, id_after
from elysium.ws import frames
from spectator import protocol as sp
from spectator.fanout import close_after, deliver
from spectator.feed import END, ENDED, GAP, FeedBuffer, FeedDecoder, marker

if TYPE_CHECKING:
    from elysium.ws.fanout import SlowReaderPolicy
    from spectator.connection import Watcher
    from spectator.metrics import SpectatorMetrics
    from spectator.settings import SpectatorSettings

log = logging.getLogger(__name__)

READ_COUNT = 500
BACKFILL_PAGE = 200
BUNDLE_EDGE_S = 1e-4  # an entry exactly one bundle window after the first goes in the next bundle
DELAY_QUANTUM_S = 0.1  # watchers whose delays round up to the same 100 ms share a channel


class RelayContext(Protocol):
    """What relays (live and replay) need from the server that owns them."""

    settings: SpectatorSettings
    metrics: SpectatorMetrics
    feeds: MatchFeedReader
    slow_readers: SlowReaderPolicy  # built once from the settings (spectator.fanout.slow_reader_policy)

    def feed_now(self) -> float: ...

    def relay_done(self, relay: MatchRelay) -> None: ...


def live_channel(delay_s: float, min_delay_s: float, bundle_s: float) -> tuple[float, float]:
    """The channel a live watcher asking for ``delay_s`` joins: (its delay, its bundle window).

    The delay is raised to the mode's minimum and rounded up to the channel quantum, so it is
    never below what was asked or allowed. A delayed channel releases, with each entry that
    falls due, the entries due within the bundle window after it (one message carrying
    several ticks, each at most ``bundle`` early), as far as the minimum delay leaves room.
    """
    quanta = math.ceil(max(delay_s, min_delay_s) / DELAY_QUANTUM_S - 1e-9)
    delay = round(quanta * DELAY_QUANTUM_S, 6)
    bundle = 0.0 if delay == 0 else round(min(bundle_s, max(0.0, delay - min_delay_s)), 6)
    return delay, bundle


class Channel:
    """Watchers of one match with one delay: one cursor, one timer, one write per batch."""

    __slots__ = ("delay_s", "bundle_s", "cursor", "watchers", "timer", "ended")

    def __init__(self, delay_s: float, cursor: int, bundle_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.bundle_s = bundle_s  # entries due this soon after a due one go with it (see live_channel)
        self.cursor = cursor  # the next entry to release
        self.watchers: set[Watcher] = set()
        self.timer: asyncio.TimerHandle | None = None
        self.ended = False


class MatchRelay:
    def __init__(self, ctx: RelayContext, match_id: str) -> None:
        self.ctx = ctx
        self.match_id = match_id
        self.decoder = FeedDecoder(match_id)
        self.buffer = FeedBuffer(ctx.settings.buffer_max_entries)
        self.channels: dict[int, Channel] = {}
        self.read_from: FeedId | None = None  # the reader's position: the last id read (None: none yet)
        self.at_origin = False  # the buffer's front is the stream's first entry (or nothing is older)
        self.terminal = False
        self.closed = False
        self._task: asyncio.Task[None] | None = None
        self._history = asyncio.Lock()
        self._attaching = 0
        self._origin_next = False
        ctx.metrics.relays.inc()

    # --- life ----------------------------------------------------------------------------

    async def open(self) -> None:
        """Find the feed's newest entry and start reading after it (history comes on demand)."""
        newest = await self.ctx.feeds.newest(self.match_id)
        self.read_from = newest.id if newest is not None else None
        if newest is None:
            # Nothing to backfill: the stream has not started, and its first entry will be its origin.
            self.at_origin = self._origin_next = True
        elif newest.kind == END:
            # The match is over: only history is left, the reader has nothing to wait for.
            self.terminal = True
        if not self.terminal:
            self._task = asyncio.get_running_loop().create_task(self._read(), name=f"feed:{self.match_id}")

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.ctx.metrics.relays.dec()
        if self._task is not None:
            self._task.cancel()
        for ch in self.channels.values():
            if ch.timer is not None:
                ch.timer.cancel()
        self.channels.clear()
        self.ctx.relay_done(self)

    @property
    def watchers(self) -> int:
        return sum(len(ch.watchers) for ch in self.channels.values())

    # --- watchers ------------------------------------------------------------------------

    async def attach(self, watcher: Watcher, delay_s: float, bundle_s: float = 0.0) -> bool:
        """Join ``watcher`` to the channel for ``delay_s`` (from :func:`live_channel`): send it the
        latest start and what followed.

        False when this relay closed meanwhile (the caller opens a new one).
        """
        if self.closed:
            return False
        key = round(delay_s / DELAY_QUANTUM_S)
        ch = self.channels.get(key)
        if ch is None:
            point = self.ctx.feed_now() - key * DELAY_QUANTUM_S
            self._attaching += 1
            try:
                await self._ensure_history(point)
            except BaseException:
                self._attaching -= 1
                self._maybe_close()  # nobody else may be left to close this relay
                raise
            self._attaching -= 1
            ch = self.channels.get(key)
            if ch is None and not self.closed:
                cursor = self.buffer.end if key == 0 else self.buffer.first_after(point)
                ch = self.channels[key] = Channel(key * DELAY_QUANTUM_S, cursor, bundle_s)
        if self.closed or ch is None:
            return False
        if not watcher.open:
            self._maybe_close()
            return True
        watcher.channel = ch
        watcher.relay = self
        ch.watchers.add(watcher)
        start = self.buffer.start_at_or_before(ch.cursor - 1)
        if start is None:
            watcher.skipping = time.monotonic()  # nothing to start from yet: wait for the next keyframe
        else:
            catch_up = self.buffer.slice(start, ch.cursor)
            watcher.write(b"".join(e.framed for e in catch_up))
            self.ctx.metrics.bytes_out.inc(sum(len(e.framed) for e in catch_up))
            if catch_up[-1].terminal:
                self.detach(watcher)
                close_after((watcher,), catch_up[-1])
                return True
        self._pump(ch, self.ctx.feed_now())
        return True

    def detach(self, watcher: Watcher) -> None:
        ch = watcher.channel
        watcher.channel = None
        watcher.relay = None
        if ch is None:
            return
        ch.watchers.discard(watcher)
        if not ch.watchers:
            if ch.timer is not None:
                ch.timer.cancel()
                ch.timer = None
            for key, value in list(self.channels.items()):
                if value is ch:
                    del self.channels[key]
        self._maybe_close()

    def _maybe_close(self) -> None:
        if not self.channels and not self._attaching:
            self.close()

    # --- history -------------------------------------------------------------------------

    async def _ensure_history(self, point: float) -> None:
        """Backfill from Redis until the buffer holds a start at or before ``point``.

        Each page is read before the oldest id the previous one read (``FeedPage.last_id``),
        malformed entries included, so a page of nothing but bad entries is read past.
        """
        async with self._history:
            buf = self.buffer
            # Before the front of the buffer; with nothing held, up to and with the last id read.
            top = FeedId(buf[buf.base].id) if len(buf) else id_after(self.read_from) if self.read_from else None
            while not self.at_origin:
                if buf.start_at_or_before(buf.first_after(point) - 1) is not None:
                    return
                if len(buf) and buf[buf.base].id == b"":
                    return  # a marker at the front: nothing older is usable
                page = await self.ctx.feeds.range_before(self.match_id, top, BACKFILL_PAGE)
                if page.bad:
                    self.ctx.metrics.bad_entries.inc(page.bad)
                origin = False
                if not page.full:
                    self.at_origin = True
                    origin = page.last_id is not None and await self.ctx.feeds.untrimmed(self.match_id)
                buf.prepend([self.decoder.decode(e, origin=origin and i == 0) for i, e in enumerate(page.entries)])
                top = page.last_id or top

    # --- the reader ----------------------------------------------------------------------

    async def _read(self) -> None:
        ctx, loop = self.ctx, asyncio.get_running_loop()
        stall_s = ctx.settings.feed_stall_s
        failing_since: float | None = None
        backoff = 0.1
        heard = loop.time()
        while not self.terminal:
            try:
                page = await ctx.feeds.read_after(self.match_id, self.read_from, READ_COUNT, 1.0)
                if page.last_id is None and self.read_from is not None and not await ctx.feeds.exists(self.match_id):
                    self._end_stream("feed_lost", retry=False)
                    return
            except FeedUnavailable as exc:
                ctx.metrics.feed_errors.inc()
                if failing_since is None:
                    failing_since = loop.time()
                    log.warning("feed read failed", extra={"match_id": self.match_id, "error": str(exc)})
                if loop.time() - failing_since >= stall_s:
                    self._end_stream("feed_unavailable", retry=True)
                    return
                await asyncio.sleep(backoff)
                backoff = min(2.0, backoff * 2)
                continue
            if failing_since is not None:
                # Entries may have been lost while Redis was away: watchers resume at the next keyframe.
                failing_since, backoff = None, 0.1
                self.buffer.append(marker(GAP, ctx.feed_now()))
                log.info("feed read recovered", extra={"match_id": self.match_id})
            if page.last_id is None:
                if loop.time() - heard >= stall_s:
                    self._end_stream("feed_stalled", retry=False)
                    return
                continue
            heard = loop.time()
            self.read_from = page.last_id
            if page.bad:
                ctx.metrics.bad_entries.inc(page.bad)
            for item in page.entries:
                entry = self.decoder.decode(item, origin=self._origin_next)
                self._origin_next = False
                self.buffer.append(entry)
                if entry.terminal:
                    self.terminal = True
                    break
            self._pump_all()
        ctx.relay_done(self)

    def _end_stream(self, reason: str, *, retry: bool) -> None:
        log.info("feed ended without a match end", extra={"match_id": self.match_id, "reason": reason})
        notice = frames.frame_binary(sp.stream_ended(self.match_id, reason, retry))
        self.buffer.append(marker(ENDED, self.ctx.feed_now(), notice))
        self.terminal = True
        self._pump_all()
        self.ctx.relay_done(self)

    # --- releasing ------------------------------------------------------------------------

    def _pump_all(self) -> None:
        now = self.ctx.feed_now()
        for ch in list(self.channels.values()):
            self._pump(ch, now)
        self._trim()

    def _trim(self) -> None:
        if not self._attaching:  # a backfill in flight prepends to the front we would cut
            self.buffer.trim([ch.cursor for ch in self.channels.values()])

    def _pump(self, ch: Channel, now: float) -> None:
        if ch.ended:
            return
        buf = self.buffer
        if ch.cursor < buf.base:  # the hard cap dropped entries this channel had not sent
            ch.cursor = buf.base
            for w in ch.watchers:
                w.skipping = w.skipping or time.monotonic()
        if ch.delay_s == 0:
            end = buf.end
        else:
            end = buf.due_end(ch.cursor, now - ch.delay_s)
            if ch.bundle_s and end > ch.cursor:
                # What falls due within the bundle window goes in the same message.
                end = buf.due_end(end, buf[ch.cursor].at + ch.bundle_s - BUNDLE_EDGE_S)
        if end > ch.cursor:
            batch = buf.slice(ch.cursor, end)
            ch.cursor = end
            self.ctx.metrics.delivery_lag.observe(max(0.0, now - batch[0].at - ch.delay_s))
            began = time.perf_counter()
            terminal = deliver(ch.watchers, batch, self.ctx.metrics, self.ctx.slow_readers)
            self.ctx.metrics.fanout.observe(time.perf_counter() - began)
            if terminal is not None:
                ch.ended = True
                close_after(ch.watchers, terminal)
                return
        if ch.delay_s > 0 and ch.cursor < buf.end and ch.timer is None:
            wait = buf[ch.cursor].at + ch.delay_s - now
            ch.timer = asyncio.get_running_loop().call_later(max(0.0, wait), self._on_timer, ch)

    def _on_timer(self, ch: Channel) -> None:
        ch.timer = None
        if self.closed or ch.ended:
            return
        self._pump(ch, self.ctx.feed_now())
        self._trim()

