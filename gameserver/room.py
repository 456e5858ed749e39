"""A room: one match, one owner of its state. Pure: the caller passes the clock in.

The server's scheduler ticks rooms on a fixed time grid (``tick_rooms`` for the rooms due
together). A tick applies the newest queued input of each seat (older ones waiting are merged
into it, a shot kept), so an input that arrived before a tick is applied in that tick; inputs
sent while the room waits are discarded. It then steps the mode, diffs the
replicated state against the previous tick and encodes the delta (and events) once; the
server sends those same bytes to every connected player and appends them to the
spectator feed. A mode with per-seat views (hidden information) gets one delta per distinct
view, each encoded once and sent to the seats of that view; the full view's delta goes to
the feed only (docs/protocol.md, *Per-seat views*).
"""

from __future__ import annotations

import logging
import secrets
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from elysium.modes import API_VERSION, GameMode, JoinRejected, ModeConfig, OptionError, Snapshot, StepOutcome
from elysium.modes.options import OptionValue, resolve
from elysium.results import MatchResult, PlayerRow
from gameserver import protocol as p
from gameserver.lifecycle import Lifecycle, RoomState
from gameserver.modes import MODES
from gameserver.protocol import InputRow, seq_after
from gameserver.spec import JoinRefused, MatchId, PlayerId, RoomSpec, spec_from_claims
from gameserver.views import diff_player_rows, encode_views

__all__ = ["JoinRefused", "MatchId", "PlayerId", "Room", "RoomSpec", "Seat", "TickOutput", "spec_from_claims",
           "step_rooms", "tick_rooms"]

INPUT_QUEUE_MAX = 6  # inputs waiting per seat; older ones are dropped past this
INPUT_BACKLOG = 1  # at a tick, inputs beyond this many waiting are merged away (the newest is applied)
SMALL_ROOM = 32  # rooms of at most this many seats are diffed row by row, larger ones with arrays
ERROR = "error"  # the finish reason of a room whose mode raised

log = logging.getLogger("gameserver.room")


@dataclass(slots=True)
class Seat:
    index: int
    player_id: PlayerId
    name: str
    team: int
    resume: str
    link: Any = None  # the server's connection object while connected
    dropped_at: float | None = None
    joined_at: float = 0.0
    last_enqueued: int = -1
    last_applied: int = -1
    acked: int = -1  # the last applied sequence number already sent in a delta
    last_input: InputRow = p.IDLE_INPUT  # the room's mode's idle row until an input is applied
    queue: deque[InputRow] = field(default_factory=lambda: deque(maxlen=INPUT_QUEUE_MAX))
    # When the fan-out began skipping this slow client (None: it is not); it gets a keyframe
    # in place of the deltas it missed once it drains.
    skipped_since: float | None = None
    # Per-seat views: the view this seat's client holds (its last keyframe or delta), which
    # its next delta is diffed against.
    view: Snapshot | None = None

    @property
    def connected(self) -> bool:
        return self.link is not None


@dataclass(slots=True)
class TickOutput:
    tick: int
    delta: bytes | None = None
    events: bytes | None = None
    keyframe: bytes | None = None  # for the spectator feed, every keyframe interval
    result: MatchResult | None = None  # once, when the match ends
    expired: list[Seat] = field(default_factory=list)  # seats freed after the grace period
    dropped_inputs: int = 0
    # Per-seat views: each distinct view's delta, encoded once, with the seats it goes to
    # (``delta`` is then the full view's, for the spectator feed only).
    views: list[tuple[bytes, list[Seat]]] | None = None
    private: list[tuple[Seat, bytes]] = field(default_factory=list)  # events for one seat alone


@dataclass(frozen=True, slots=True)
class Description:
    """What a match's description says that never changes while it lasts (built once per room)."""

    columns: dict[str, Any]
    map_info: dict[str, Any]  # the mode's static map, without the per-match limits
    input: dict[str, Any]
    options: dict[str, Any]


class Room:
    def __init__(self, spec: RoomSpec, *, server_id: str, now: float, wall_us: int,
                 grace_s: float, keyframe_every_s: float = 2.0, linger_s: float = 3.0,
                 mode_factory: Callable[[ModeConfig], GameMode[Any]] | None = None,
                 mode_class: type[GameMode[Any]] | None = None) -> None:
        self.spec = spec
        self.server_id = server_id
        mode_class = mode_class or MODES[spec.mode]
        config = mode_class.configure(seats=spec.seats, tick_hz=spec.tick_hz, seed=spec.seed, teams=spec.teams,
                                      options=spec.options)
        self.mode: GameMode[Any] = (mode_factory or mode_class)(config)
        self.mode_class = type(self.mode)
        self.schema = self.mode_class.input_schema
        self._on_events = self.mode_class.on_events is not GameMode.on_events  # the per-tick hook, if the mode has one
        self.failure: str | None = None  # what the mode raised in, once it did (the room ends with error)
        self._clock = (now, wall_us)  # the last tick's times, for a hook that fails between ticks
        self._map_info: dict[str, Any] | None = None
        self._description: Description | None = None
        self.per_seat_views = self.mode_class.per_seat_views
        # Asked once, as the mode is made (a raise here is the mode's constructor failing).
        self.spectator_delay_s = float(self.mode.spectator_delay_s())
        self.lifecycle = Lifecycle()
        self.created_at = now
        self.created_wall_us = wall_us
        self.started_wall_us = 0
        self.finished_at: float | None = None
        self.grace_s = grace_s
        self.linger_s = linger_s
        self.keyframe_every = max(1, round(keyframe_every_s * spec.tick_hz))
        self.seats: list[Seat | None] = [None] * spec.seats
        self.by_player: dict[PlayerId, Seat] = {}
        self.prev: Snapshot = self.mode.snapshot()
        self._prev_rows: list[list[int]] | None = None  # prev.players as lists, when the last diff made them
        self.pending_events: list[dict[str, Any]] = []
        self._keyframe: tuple[int, int, bytes] | None = None
        self._view_keyframes: dict[Hashable, tuple[int, int, Snapshot, bytes]] = {}  # key -> (tick, version, view, bytes)
        self.pending_private: dict[int, list[dict[str, Any]]] = {}
        self._version = 0  # bumps whenever seats change between ticks
        self._version_ticked = 0  # _version as of the last tick (self.prev is the state then)
        self._full_delta = False  # the next delta lists every seated player in full (the first running tick)
        self.result: MatchResult | None = None
        self._result_pending = False  # handed to the server by the next tick
        self.end_reason: str | None = None

    # --- queries ----------------------------------------------------------------------

    @property
    def state(self) -> RoomState:
        return self.lifecycle.state

    @property
    def tick_number(self) -> int:
        return self.prev.tick

    def occupied(self) -> Iterable[Seat]:
        return (s for s in self.seats if s is not None)

    @property
    def players(self) -> int:
        return sum(1 for _ in self.occupied())

    @property
    def connected(self) -> int:
        return sum(1 for s in self.occupied() if s.connected)

    # --- seats ------------------------------------------------------------------------

    def admit(self, player: PlayerId, name: str, link: Any, now: float,
              choice: Mapping[str, Any] | None = None, wall_us: int = 0) -> Seat:
        """Seat ``player`` (or reattach their held seat) and bind ``link`` to it.

        ``choice`` is what the join message picked for the mode (``join_choice``): checked
        against the declaration, then the mode's :meth:`~elysium.modes.GameMode.check_join`
        may refuse the join (``join_rejected``) or set the team.
        """
        if not self.lifecycle.accepts_players:
            raise JoinRefused(p.ROOM_CLOSED, f"match is {self.state.value}")
        if self.spec.roster is not None and player not in self.spec.roster:
            raise JoinRefused(p.NOT_IN_ROSTER, "player is not on this match's roster")
        seat = self.by_player.get(player)
        if seat is not None:
            self.reattach(seat, link)
            return seat
        index = next((i for i, s in enumerate(self.seats) if s is None), None)
        if index is None:
            raise JoinRefused(p.ROOM_FULL, "no free seat in this match")
        team = self._check_join(index, self.spec.team(player, index), choice, now, wall_us)
        try:
            self.mode.join(index, team)
        except Exception as exc:  # noqa: BLE001 - a mode's bug ends its own room only
            self.fail("join", exc, now, wall_us)
            raise JoinRefused(p.ROOM_CLOSED, "the match ended with an error") from None
        seat = Seat(index=index, player_id=player, name=name[:32], team=team,
                    resume=secrets.token_urlsafe(18), link=link, joined_at=now, last_input=self.schema.idle)
        self.seats[index] = seat
        self.by_player[player] = seat
        self._version += 1
        self.pending_events.append({"k": "join", "who": index, "id": player, "name": seat.name, "team": seat.team})
        return seat

    def _check_join(self, index: int, team: int, choice: Mapping[str, Any] | None, now: float, wall_us: int) -> int:
        declared = self.mode_class.join_choice
        try:
            picked: dict[str, OptionValue] = resolve(declared, choice or {})
        except OptionError as exc:
            raise JoinRefused(p.JOIN_REJECTED, f"choice.{exc.name} {exc.problem}") from None
        if self.mode_class.check_join is GameMode.check_join:
            return team  # the mode has no join validation of its own
        try:
            chosen = self.mode.check_join(index, team, picked)
        except JoinRejected as exc:
            raise JoinRefused(p.JOIN_REJECTED, str(exc)[:200] or "the mode refused the join") from None
        except Exception as exc:  # noqa: BLE001
            self.fail("check_join", exc, now, wall_us)
            raise JoinRefused(p.ROOM_CLOSED, "the match ended with an error") from None
        if type(chosen) is not int or not 0 <= chosen < max(self.spec.teams, 1):
            self.fail("check_join", ValueError(f"check_join returned team {chosen!r}"), now, wall_us)
            raise JoinRefused(p.ROOM_CLOSED, "the match ended with an error")
        return chosen

    def reattach(self, seat: Seat, link: Any) -> None:
        was_dropped = seat.dropped_at is not None
        seat.link = link
        seat.dropped_at = None
        seat.resume = secrets.token_urlsafe(18)
        seat.queue.clear()
        seat.last_enqueued = seat.last_applied
        seat.skipped_since = None  # a new connection starts with no backlog and just got a keyframe
        self._version += 1
        if was_dropped:
            self.pending_events.append({"k": "back", "who": seat.index})
            self._hook("on_reconnect", self.mode.on_reconnect, seat.index)

    def drop(self, seat: Seat, now: float) -> None:
        """The seat's connection went away; hold the seat for the grace period."""
        if seat.link is None:
            return
        seat.link = None
        seat.dropped_at = now
        seat.queue.clear()
        self._version += 1
        self.pending_events.append({"k": "drop", "who": seat.index, "grace_s": self.grace_s})
        self._hook("on_drop", self.mode.on_drop, seat.index)

    def release(self, seat: Seat, reason: str) -> None:
        """Free the seat now (a leave message, or the grace period is over)."""
        if self.seats[seat.index] is not seat:
            return
        self.seats[seat.index] = None
        del self.by_player[seat.player_id]
        seat.link = None
        self._hook("leave", self.mode.leave, seat.index)
        self._version += 1
        self.pending_events.append({"k": "leave", "who": seat.index, "reason": reason})

    def push_inputs(self, seat: Seat, inputs: tuple[InputRow, ...]) -> tuple[int, int]:
        """Queue new inputs (by sequence number, modulo 2**32). Returns (accepted, dropped)."""
        if len(inputs) == 1:  # the usual message: one input per tick
            inp = inputs[0]
            if not seq_after(inp[0], seat.last_enqueued):
                return 0, 0
            queue = seat.queue
            full = len(queue) == INPUT_QUEUE_MAX
            queue.append(inp)
            seat.last_enqueued = inp[0]
            return 1, int(full)
        accepted = dropped = 0
        for inp in inputs:
            if not seq_after(inp[0], seat.last_enqueued):
                continue  # a resend of something we have
            if len(seat.queue) == seat.queue.maxlen:
                dropped += 1  # the oldest falls out
            seat.queue.append(inp)
            seat.last_enqueued = inp[0]
            accepted += 1
        return accepted, dropped

    # --- the tick ---------------------------------------------------------------------

    def tick(self, now: float, wall_us: int) -> TickOutput:
        """One whole tick of this room alone (the server batches rooms, see ``tick_rooms``)."""
        out, inputs = self.begin_tick(now, wall_us)
        outcome = None
        if inputs is not None:
            try:
                outcome = self.mode.step(inputs)
            except Exception as exc:  # noqa: BLE001 - a mode's bug ends its own room only
                self.fail("step", exc, now, wall_us)
        return self.end_tick(out, outcome, now, wall_us)

    def begin_tick(self, now: float, wall_us: int) -> tuple[TickOutput, dict[int, InputRow] | None]:
        """Lifecycle and seat bookkeeping, then this tick's inputs (None when not simulating)."""
        out = TickOutput(tick=self.prev.tick)
        self._clock = (now, wall_us)
        state = self.lifecycle.state
        if state is RoomState.WAITING:
            self._maybe_start(now, wall_us)
        elif state is RoomState.FINISHED:
            if self.finished_at is not None and now - self.finished_at >= self.linger_s:
                self.lifecycle.to(RoomState.DISPOSED, now)
        self._expire_dropped(now, out)
        if not self.lifecycle.simulating:
            if self.lifecycle.state is RoomState.WAITING:
                # Inputs sent while the room waits are discarded, so none is left over to delay
                # the inputs that follow once the match runs.
                for seat in self.seats:
                    if seat is not None and seat.queue:
                        seat.queue.clear()
            return out, None
        inputs: dict[int, InputRow] = {}
        occupied = False
        schema = self.schema
        for seat in self.seats:
            if seat is None:
                continue
            occupied = True
            queue = seat.queue
            if len(queue) > INPUT_BACKLOG:
                # Inputs bunched up (network jitter): drop the oldest so the newest is applied
                # now and nothing is left to delay the next one; a dropped shot (a latched
                # field of the schema) is kept.
                dropped = []
                while len(queue) > INPUT_BACKLOG:
                    dropped.append(queue.popleft())
                queue[0] = schema.carry(dropped, queue[0])
            if queue:
                inp = queue.popleft()
                seat.last_applied = inp[0]
                seat.last_input = inp
                inputs[seat.index] = inp
            elif seat.link is not None:
                # Nothing new: the last input again, its fields that do not hold reset.
                inputs[seat.index] = schema.repeat(seat.last_input)
        if not occupied:
            # Everyone left: the match is over; the room goes away.
            self._finish("abandoned", now, wall_us)
            return out, None
        return out, inputs

    def end_tick(self, out: TickOutput, outcome: StepOutcome | None, now: float, wall_us: int) -> TickOutput:
        """Apply the step's outcome, diff against the last tick and encode once."""
        if outcome is not None:
            self.pending_events.extend(outcome.events)
            if outcome.private:
                for seat, events in outcome.private.items():
                    self.pending_private.setdefault(seat, []).extend(events)
            if self._on_events and self.failure is None:
                more = self._hook("on_events", self.mode.on_events, self.prev.tick + 1, list(self.pending_events),
                                  now=now, wall_us=wall_us)
                if more:
                    self.pending_events.extend(more)
            if outcome.finished and self.failure is None:
                if outcome.finished in self.mode_class.result_shape.reasons:
                    self._finish(outcome.finished, now, wall_us)
                else:
                    self.fail("step", ValueError(f"step finished with the undeclared reason {outcome.finished!r}"),
                              now, wall_us)
        if self.failure is None:
            try:
                snap = self.mode.snapshot()
            except Exception as exc:  # noqa: BLE001 - a mode's bug ends its own room only
                self.fail("snapshot", exc, now, wall_us)
                snap = self.prev
        else:
            snap = self.prev
        out.tick = snap.tick
        if self.lifecycle.simulating or (self.pending_events and self.lifecycle.state is not RoomState.DISPOSED):
            acks = self._acks()
            if self.per_seat_views:
                try:
                    out.views = encode_views(self.mode, self.occupied(), snap.tick, wall_us, acks,
                                             full=self._full_delta)
                except Exception as exc:  # noqa: BLE001 - a mode's bug in view_key or view ends its own room only
                    self.fail("view", exc, now, wall_us)
                    out.views = []  # nobody gets a view this tick; the end event follows
            out.delta = self._encode_delta(snap, wall_us, acks)
        else:
            self._prev_rows = None  # made for the snapshot being replaced
        self.prev = snap
        self._version_ticked = self._version
        if self.pending_events:
            out.events = p.pack({"t": "events", "n": snap.tick, "e": self.pending_events})
            self.pending_events = []
        if self.pending_private:
            for index, events in self.pending_private.items():
                held = self.seats[index] if 0 <= index < len(self.seats) else None
                if held is not None:
                    out.private.append((held, p.pack({"t": "events", "n": snap.tick, "e": events})))
            self.pending_private = {}
        if self.lifecycle.simulating and snap.tick % self.keyframe_every == 0:
            out.keyframe = self.keyframe(wall_us)
        if self._result_pending:
            out.result = self.result
            self._result_pending = False
        if self.lifecycle.state is RoomState.DISPOSED:
            self.close_mode()
        return out

    # --- a mode that fails -------------------------------------------------------------

    def fail(self, during: str, exc: BaseException, now: float, wall_us: int) -> None:
        """The mode raised in ``during``: log it with the traceback and end the match with
        ``error``. The mode is not called again, except for ``results`` (guarded) and ``close``."""
        if self.failure is not None:
            return
        self.failure = during
        log.error("game mode raised; the match ends with error", exc_info=exc,
                  extra={"match_id": self.spec.match_id, "mode": self.spec.mode, "during": during})
        if self.lifecycle.state is RoomState.RUNNING:
            self._finish(ERROR, now, wall_us)
        elif self.lifecycle.state is RoomState.WAITING:  # no match was played: no result
            self.end_reason = ERROR
            self.lifecycle.to(RoomState.DISPOSED, now)

    def _hook(self, during: str, call: Callable[..., Any], *args: Any, now: float | None = None,
              wall_us: int = 0) -> Any:
        """Call a mode method that may raise; a raise fails the room (None is returned)."""
        if self.failure is not None:
            return None
        try:
            return call(*args)
        except Exception as exc:  # noqa: BLE001 - a mode's bug ends its own room only
            self.fail(during, exc, self._clock[0] if now is None else now, wall_us or self._clock[1])
            return None

    def _snapshot(self, now: float, wall_us: int) -> Snapshot:
        if self.failure is None:
            try:
                snap = self.mode.snapshot()
            except Exception as exc:  # noqa: BLE001
                self.fail("snapshot", exc, now, wall_us)
            else:
                return snap
        return self.prev  # the last good state stands

    def close_mode(self) -> None:
        """Let the mode release what it holds (once it is disposed); a raise is only logged."""
        try:
            self.mode.close()
        except Exception:  # noqa: BLE001
            log.exception("game mode raised in close", extra={"match_id": self.spec.match_id, "mode": self.spec.mode})

    def _maybe_start(self, now: float, wall_us: int) -> None:
        joined = self.players
        full = (self.spec.roster is not None and joined == len(self.spec.roster)) or joined == self.spec.seats
        timed_out = now - self.created_at >= self.spec.start_timeout_s
        if full or (self.spec.roster is None and joined >= self.spec.min_players) or (
            timed_out and joined >= self.spec.min_players
        ):
            self.lifecycle.to(RoomState.RUNNING, now)
            self.started_wall_us = wall_us
            self._full_delta = True
            self.pending_events.append({"k": "start", "tick_hz": self.spec.tick_hz})
        elif timed_out:
            self.end_reason = "not_enough_players"
            self.lifecycle.to(RoomState.DISPOSED, now)

    def _expire_dropped(self, now: float, out: TickOutput) -> None:
        for seat in list(self.occupied()):
            if seat.dropped_at is not None and now - seat.dropped_at >= self.grace_s:
                self.release(seat, "timeout")
                out.expired.append(seat)

    def _finish(self, reason: str, now: float, wall_us: int) -> None:
        self.lifecycle.to(RoomState.FINISHED, now)
        self.finished_at = now
        more = self._hook("on_end", self.mode.on_end, reason, now=now, wall_us=wall_us)
        if more:
            self.pending_events.extend(more)
        snap_tick = self.prev.tick if self.failure is not None else self._snapshot(now, wall_us).tick
        try:
            rows = self._result_rows(reason, self.mode.results())
            result = self._result(reason, rows, snap_tick, wall_us)
        except Exception as exc:  # noqa: BLE001 - the result still goes out, without the mode's rows
            if self.failure is None:
                self.failure = "results"
                log.error("game mode's results are not a valid match result; the match ends with error",
                          exc_info=exc, extra={"match_id": self.spec.match_id, "mode": self.spec.mode})
            reason = ERROR
            result = self._result(reason, self._result_rows(reason, []), snap_tick, wall_us)
        self.end_reason = reason
        self.result = result
        # The end event (protocol v1) lists the same rows without their placements.
        players = [{k: v for k, v in row.to_json().items() if k != "placement"} for row in result.players]
        self._result_pending = True
        self.pending_events.append({"k": "end", "reason": reason, "results": players})

    def _result_rows(self, reason: str, mode_rows: Sequence[Any]) -> list[PlayerRow]:
        """The mode's rows for the seats still held (every held seat, at zero, after an error)."""
        by_seat = {s.index: s for s in self.occupied()}
        shape = self.mode_class.result_shape
        rows: list[PlayerRow] = []
        for r in mode_rows:
            seat = by_seat.pop(r.seat, None)
            if seat is None:
                continue
            stats = {name: int(r.stats.get(name, 0)) for name in shape.stats}
            if not 0 <= r.team < max(self.spec.teams, 1):
                raise ValueError(f"seat {r.seat}'s result is on team {r.team!r}; the room has {self.spec.teams}")
            rows.append(PlayerRow(player_id=seat.player_id, seat=r.seat, name=seat.name, team=int(r.team),
                                  score=int(r.score), time_played_s=float(r.time_played_s), stats=stats))
        for seat in by_seat.values() if reason == ERROR else ():
            # A failed mode's rows may be missing: every seated player is still listed.
            rows.append(PlayerRow(player_id=seat.player_id, seat=seat.index, name=seat.name, team=seat.team,
                                  score=0, time_played_s=0.0, stats={name: 0 for name in shape.stats}))
        tiebreak = shape.tiebreak
        rows.sort(key=lambda r: (-r.score, *(r.stat(name) for name in tiebreak), r.seat))
        return rows

    def _result(self, reason: str, rows: list[PlayerRow], ticks: int, wall_us: int) -> MatchResult:
        """The match result; checked with the consumers' strict parser, so a mode's odd rows
        (a negative time, say) end the match with error instead of a result nobody can read."""
        result = MatchResult.create(
            match_id=self.spec.match_id, mode=self.spec.mode, seed=self.spec.seed, server_id=self.server_id,
            reason=reason, ticks=ticks, duration_s=round(ticks / self.spec.tick_hz, 3),
            started_at_us=self.started_wall_us, ended_at_us=wall_us, teams=self.spec.teams, players=rows)
        MatchResult.parse(result.encode())
        return result

    def abort(self, reason: str, now: float, wall_us: int) -> None:
        """End the match early (server shutdown past its drain deadline)."""
        if self.lifecycle.state is RoomState.RUNNING:
            self._finish(reason, now, wall_us)
        elif self.lifecycle.state is RoomState.WAITING:
            self.end_reason = reason
            self.lifecycle.to(RoomState.DISPOSED, now)

    # --- encoding ---------------------------------------------------------------------

    def _acks(self) -> list[list[int]]:
        """``[seat, seq]`` for the seats whose last applied input changed since the last delta."""
        acks = []
        for seat in self.occupied():
            if seat.last_applied != seat.acked:
                seat.acked = seat.last_applied
                acks.append([seat.index, seat.last_applied])
        return acks

    def _encode_delta(self, snap: Snapshot, wall_us: int, acks: list[list[int]]) -> bytes:
        prev = self.prev
        if self._full_delta:
            # The first running tick lists every seated player in full, diffed against an empty
            # room: a client that skipped waiting-room deltas (n = 0) is whole again from here.
            self._full_delta = False
            self._prev_rows = None
            prev = Snapshot(prev.tick, prev.players, np.zeros_like(prev.present), prev.objects)
        m = self.mode.motion_columns
        msg: dict[str, Any] = {"t": "delta", "n": snap.tick, "ts": wall_us}
        if len(snap.players) <= SMALL_ROOM:
            moved, status, gone = self._diff_rows(snap, prev, m)
        else:
            moved, status, gone = _diff_arrays(snap, prev, m)
        if gone:
            msg["gone"] = gone
        if moved:
            msg["p"] = moved
        if status:
            msg["s"] = status
        if snap.objects is not prev.objects:
            _diff_objects(snap, prev, msg)
        if acks:
            msg["a"] = acks
        return p.pack(msg)

    def _diff_rows(self, snap: Snapshot, prev: Snapshot, m: int) -> tuple[list[list[int]], list[list[int]], list[int]]:
        """Player rows that moved, rows whose status changed, seats gone: row by row in Python,
        which beats a dozen small array operations for small rooms (same result as
        :func:`_diff_arrays`; ``tests/gameserver/test_room.py`` checks both)."""
        rows = snap.players.tolist()
        old_rows = self._prev_rows if self._prev_rows is not None else prev.players.tolist()
        self._prev_rows = rows
        return diff_player_rows(rows, old_rows, snap.present.tolist(), prev.present.tolist(), m)

    def keyframe(self, wall_us: int, seat: Seat | None = None) -> bytes:
        """The full replicated state now: after the last tick and any seat change since (a
        joiner's own row included). Encoded at most once per tick and seat change.

        With per-seat views, ``seat`` names whose view it is (None: the full view, for the
        spectator feed); it is encoded once per view key, tick and seat change, and becomes
        the view that seat's next delta is diffed against."""
        if seat is not None and self.per_seat_views:
            return self._view_keyframe(wall_us, seat)
        cached = self._keyframe
        if cached is not None and cached[0] == self.prev.tick and cached[1] == self._version:
            return cached[2]
        snap = self._snapshot(*self._clock) if self._version != self._version_ticked else self.prev
        data = self._encode_keyframe(snap, wall_us)
        self._keyframe = (snap.tick, self._version, data)
        return data

    def _view_keyframe(self, wall_us: int, seat: Seat) -> bytes:
        try:
            key = self.mode.view_key(seat.index) if self.failure is None else None
            cached = self._view_keyframes.get(key)
            if key is not None and cached is not None and cached[0] == self.prev.tick and cached[1] == self._version:
                seat.view = cached[2]
                return cached[3]
            view = self.mode.view(key) if key is not None else None
        except Exception as exc:  # noqa: BLE001 - a mode's bug ends its own room only
            self.fail("view", exc, *self._clock)
            view = None
        if view is None:
            # A failed mode shows nothing more: an empty state, never the full view.
            prev = self.prev
            view = Snapshot(prev.tick, prev.players, np.zeros_like(prev.present), prev.objects[:0])
            seat.view = view
            return self._encode_keyframe(view, wall_us)
        data = self._encode_keyframe(view, wall_us)
        self._view_keyframes[key] = (self.prev.tick, self._version, view, data)
        seat.view = view
        return data

    def _encode_keyframe(self, snap: Snapshot, wall_us: int) -> bytes:
        idx = np.flatnonzero(snap.present)
        msg = {
            "t": "keyframe",
            "n": snap.tick,
            "ts": wall_us,
            "match": self.spec.match_id,
            "mode": self.spec.mode,
            "state": self.lifecycle.state.value,
            "tick_hz": self.spec.tick_hz,
            "players": np.column_stack([idx, snap.players[idx]]).tolist() if len(idx) else [],
            "objects": snap.objects.tolist(),
            "roster": [[s.index, s.player_id, s.name, s.team, s.connected] for s in self.occupied()],
            "a": [[s.index, s.last_applied] for s in self.occupied()],
        }
        return p.pack(msg)

    @property
    def description(self) -> Description:
        """The static part of the match's feed description, the same objects every time."""
        if self._description is None:
            self._description = Description(
                columns=self.mode_class.column_layout(), map_info=dict(self.mode_class.MAP),
                input=self.schema.to_json(), options=dict(self.mode.config.options))
        return self._description

    def map_info(self) -> dict[str, Any]:
        """The mode's map for this match (the static map alone if the mode fails to say)."""
        if self._map_info is None:
            info = self._hook("map_info", self.mode.map_info)
            self._map_info = info if isinstance(info, dict) else dict(self.mode_class.MAP)
        return self._map_info

    def welcome(self, seat: Seat) -> bytes:
        return p.pack({
            "t": "welcome",
            "v": p.PROTOCOL_VERSION,
            "player": seat.index,
            "player_id": seat.player_id,
            "match": self.spec.match_id,
            "mode": self.spec.mode,
            "tick_hz": self.spec.tick_hz,
            "seats": self.spec.seats,
            "teams": self.spec.teams,
            "team": seat.team,
            "map": self.map_info(),
            "columns": self.mode_class.column_layout(),
            "input": self.schema.to_json(),
            "options": dict(self.mode.config.options),
            "api": API_VERSION,
            "resume": seat.resume,
            "grace_s": self.grace_s,
            "state": self.lifecycle.state.value,
        })


def _diff_objects(snap: Snapshot, prev: Snapshot, msg: dict[str, Any]) -> None:
    """Objects that appeared (``o+``) and went away (``o-``): object ids only grow, and a row
    never changes while its object lives."""
    old_ids = prev.objects[:, 0].tolist()
    new_ids = snap.objects[:, 0].tolist()
    newest = old_ids[-1] if old_ids else -1
    added = [i for i, ident in enumerate(new_ids) if ident > newest]
    if added:
        msg["o+"] = snap.objects[added[0]:].tolist()
    alive = set(new_ids)
    removed = [ident for ident in old_ids if ident not in alive]
    if removed:
        msg["o-"] = removed


def _diff_arrays(snap: Snapshot, prev: Snapshot, m: int) -> tuple[list[list[int]], list[list[int]], list[int]]:
    """What :meth:`Room._diff_rows` computes, with array operations (for large rooms)."""
    cur = snap.players
    changed = cur != prev.players
    moved = changed[:, :m].any(axis=1)
    status = changed[:, m:].any(axis=1)
    gone: list[int] = []
    if np.array_equal(snap.present, prev.present):
        moved &= snap.present
        status &= snap.present
    else:
        fresh = snap.present & ~prev.present
        moved = (moved & snap.present) | fresh
        status = (status & snap.present) | fresh
        gone = np.flatnonzero(prev.present & ~snap.present).tolist()
    idx = np.flatnonzero(moved)
    moved_rows = [[i, *row] for i, row in zip(idx.tolist(), cur[idx, :m].tolist())]
    idx = np.flatnonzero(status)
    status_rows = [[i, *row] for i, row in zip(idx.tolist(), cur[idx, m:].tolist())]
    return moved_rows, status_rows, gone


def step_rooms(rooms: Sequence[Room], now: float, wall_us: int) -> list[tuple[TickOutput, StepOutcome | None]]:
    """Begin the tick of several rooms due at the same moment and step each mode's rooms in
    one batch; each room's ``end_tick`` then encodes its output.

    A mode that raises ends only the room it raised for: with the default ``step_many``
    each room is stepped alone; when an overridden ``step_many`` raises, every room of that
    batch is stepped again alone (``step``), and the rooms whose step raises end with
    ``error`` while the others go on with their lone step's outcome.
    """
    begun = [room.begin_tick(now, wall_us) for room in rooms]
    outcomes: list[StepOutcome | None] = [None] * len(rooms)
    by_mode: dict[type[GameMode[Any]], list[int]] = {}
    for i, (room, (_, inputs)) in enumerate(zip(rooms, begun)):
        if inputs is not None and room.failure is None:
            by_mode.setdefault(room.mode_class, []).append(i)
    for mode_class, indices in by_mode.items():
        if len(indices) > 1 and mode_class.step_many.__func__ is not _DEFAULT_STEP_MANY:  # type: ignore[attr-defined]
            try:
                stepped = mode_class.step_many([rooms[i].mode for i in indices], [begun[i][1] or {} for i in indices])
            except Exception:  # noqa: BLE001 - found room by room below
                log.warning("step_many raised; stepping its rooms one by one",
                            extra={"mode": mode_class.name, "rooms": len(indices)})
            else:
                for i, outcome in zip(indices, stepped):
                    outcomes[i] = outcome
                continue
        for i in indices:
            room = rooms[i]
            try:
                outcomes[i] = room.mode.step(begun[i][1] or {})
            except Exception as exc:  # noqa: BLE001 - a mode's bug ends its own room only
                room.fail("step", exc, now, wall_us)
    return [(out, outcome) for (out, _), outcome in zip(begun, outcomes)]


_DEFAULT_STEP_MANY = GameMode.step_many.__func__  # type: ignore[attr-defined]


def tick_rooms(rooms: Sequence[Room], now: float, wall_us: int) -> list[TickOutput]:
    """Tick several rooms due at the same moment, stepping each mode's rooms in one batch."""
    stepped = step_rooms(rooms, now, wall_us)
    return [room.end_tick(out, outcome, now, wall_us) for room, (out, outcome) in zip(rooms, stepped)]
