"""The tick loop: every room ticks on its fixed grid, and each tick's output goes where it belongs.

Rooms due at the same moment are stepped in one batch (``step_rooms``), then each room's
output is sent room by room: the delta to its players (:class:`~gameserver.fanout.FanOut`),
every entry to the match feed, the result to the results stream. A room that ends is
handed back to its owner (``on_disposed``, the joins: seats and connections) and forgotten.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from elysium import feeds
from elysium.feeds import MatchFeedWriter
from gameserver import protocol as p
from gameserver.fanout import FanOut
from gameserver.lifecycle import RoomState
from gameserver.metrics import GameMetrics
from gameserver.redisio import ResultsWriter
from gameserver.room import MatchId, Room, RoomSpec, Seat, TickOutput, step_rooms
from gameserver.schedule import TickGrid

if TYPE_CHECKING:
    from gameserver.connection import Connection

log = logging.getLogger("gameserver")

# uvloop's clock and timers count whole milliseconds: a timer set for a deadline fires in the
# deadline's millisecond, up to 1 ms before it, and a loop that waited again for the rest
# would spin (about sixty empty passes over the grid per wait). Rooms due within this much of
# now are ticked at once instead; a tick starts at most this early on its grid.
TIMER_SLACK_S = 0.001


class Scheduler:
    """Owns the rooms and their tick grid; ``run`` is the server's one tick loop."""

    def __init__(self, server_id: str, feed: MatchFeedWriter, results: ResultsWriter, fanout: FanOut,
                 metrics: GameMetrics, *, on_seats_expired: Callable[[Sequence[Seat]], None],
                 on_disposed: Callable[[Room], None]) -> None:
        self.server_id = server_id
        self.feed = feed
        self.results = results
        self.fanout = fanout
        self.metrics = metrics
        self.on_seats_expired = on_seats_expired
        self.on_disposed = on_disposed
        self.rooms: dict[MatchId, Room] = {}
        self.grid: TickGrid[MatchId] = TickGrid()
        self.inputs_accepted = 0  # added to the counter once per batch
        self._sleep: asyncio.Future[None] | None = None  # the wait for the next deadline

    # --- rooms in and inputs in ------------------------------------------------------------

    def add(self, spec: RoomSpec, now: float, build: Callable[[int], Room]) -> Room:
        """Place a new room on the grid and build it for its phase (``build(phase)``)."""
        phase = self.grid.add(spec.match_id, spec.tick_hz, spec.seats, now).phase
        try:
            room = build(phase)
        except BaseException:
            self.grid.remove(spec.match_id)
            raise
        self.rooms[spec.match_id] = room
        self.describe(room, live=True)
        self.wake()
        return room

    def on_inputs(self, conn: Connection, inputs: tuple[p.InputRow, ...]) -> None:
        assert conn.room is not None and conn.seat is not None
        accepted, dropped = conn.room.push_inputs(conn.seat, inputs)
        self.inputs_accepted += accepted
        if dropped:
            self.metrics.rejected("queue_full", dropped)

    def flush_inputs(self) -> None:
        if self.inputs_accepted:
            self.metrics.inputs.inc(self.inputs_accepted)
            self.inputs_accepted = 0

    # --- the loop ----------------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event) -> None:
        """Run every room's ticks on its fixed grid until ``stopping`` is set."""
        loop = asyncio.get_running_loop()
        metrics = self.metrics
        while not stopping.is_set():
            now = loop.time()
            due = self.grid.due(now + TIMER_SLACK_S)
            steps = 0
            while due:
                steps += 1
                started = loop.time()
                wall = time.time_ns() // 1000
                rooms = [self.rooms[m] for m in due]
                for m in due:
                    clock = self.grid.clocks[m]
                    late = max(0.0, started - clock.deadline)
                    metrics.tick_lateness.observe(late)
                    if late > clock.period:
                        clock.late_ticks += 1
                # Step every due room in one batch, then encode and send room by room, each
                # stamped with the time it is actually sent.
                for room, (out, outcome) in zip(rooms, step_rooms(rooms, started, wall)):
                    sent_us = time.time_ns() // 1000
                    self._tick(room, room.end_tick(out, outcome, started, sent_us), started, sent_us)
                metrics.ticks.inc(len(rooms))
                if self.inputs_accepted:
                    metrics.inputs.inc(self.inputs_accepted)
                    self.inputs_accepted = 0
                metrics.tick_duration.observe(loop.time() - started)
                due, skipped = self.grid.advance(due, started + TIMER_SLACK_S, steps)
                if skipped:
                    metrics.ticks_skipped.inc(skipped)
                    log.warning("rooms fell behind; skipping ahead", extra={"steps_skipped": skipped})
            self.feed.kick()
            next_due = self.grid.next_deadline(default=now + 0.25)
            if next_due > loop.time() + TIMER_SLACK_S:
                # One future and one timer per wait (cheaper than wait_for on an Event).
                self._sleep = sleep = loop.create_future()
                timer = loop.call_at(next_due, _wake, sleep)
                try:
                    await sleep
                finally:
                    timer.cancel()
                    self._sleep = None

    def wake(self) -> None:
        """A room was added: its first deadline may come before the one the loop waits for."""
        if self._sleep is not None:
            _wake(self._sleep)

    def _tick(self, room: Room, out: TickOutput, now: float, wall_us: int) -> None:
        """Send one room's tick output to its players, the feed and the results stream."""
        if out.expired:
            self.on_seats_expired(out.expired)
        match_id = room.spec.match_id
        if out.views is not None:
            # Per-seat views: each player gets its view; the feed gets the full view.
            self.fanout.send_views(room, out.views, out.events, now)
            self.metrics.view_deltas.inc(len({id(data) for data, _ in out.views}))
        elif out.delta is not None:
            self.fanout.send(room, out.delta, out.events, now)
        if out.private:
            self.fanout.send_private(out.private)
        if out.delta is not None:
            self.feed.append(match_id, feeds.DELTA, out.tick, out.delta)
        if out.events is not None:
            self.feed.append(match_id, feeds.EVENTS, out.tick, out.events)
        if out.keyframe is not None:
            self.feed.append(match_id, feeds.KEYFRAME, out.tick, out.keyframe)
            self.describe(room, live=True)
        if out.result is not None:
            self.feed.append(match_id, feeds.END, out.tick, room.keyframe(wall_us))
            self.describe(room, live=False)
            self.results.submit(out.result)
            self.metrics.results.inc()
            asyncio.get_running_loop().create_task(self.results.flush())
        if room.state is RoomState.DISPOSED:
            self._dispose(room)

    def _dispose(self, room: Room) -> None:
        match_id = room.spec.match_id
        room.close_mode()
        self.on_disposed(room)
        self.rooms.pop(match_id, None)
        self.grid.remove(match_id)
        self.describe(room, live=False)
        log.info("room disposed", extra={"match_id": match_id, "reason": room.end_reason})

    def describe(self, room: Room, live: bool) -> None:
        """Write the match's description to the feed (the live list while ``live``)."""
        snap = room.prev
        columns = room.mode.player_columns
        score_col = columns.index("score") if "score" in columns else None
        roster = [{"seat": s.index, "id": s.player_id, "name": s.name, "team": s.team,
                   "score": int(snap.players[s.index, score_col]) if score_col is not None else 0}
                  for s in room.occupied()]
        static = room.description
        self.feed.describe(room.spec.match_id, feeds.MatchInfo(
            match_id=room.spec.match_id, mode=room.spec.mode, server_id=self.server_id,
            state=room.state.value, tick=snap.tick, tick_hz=room.spec.tick_hz,
            players=tuple(roster), started_at_us=room.started_wall_us or room.created_wall_us,
            updated_at_ms=int(time.time() * 1000), end_reason=room.end_reason,
            columns=static.columns, map_info=static.map_info, input=static.input,
            options=static.options, min_delay_s=room.spectator_delay_s or None,
        ), live)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
