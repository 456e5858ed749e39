"""Many arena rooms in shared arrays, stepped together.

Each room owns a contiguous range of player slots; projectiles of every room live in one
set of arrays tagged with their room. The server steps every room due at the same moment
with one pass of array operations instead of one pass per room. Every operation is
elementwise or restricted to pairs within one room, so a room stepped in a batch evolves
exactly as it would alone (``tests/gameserver/test_arena.py`` checks this).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np

from gameserver.modes.arena_rules import (
    AIM,
    ALIVE,
    DAMAGE,
    DEATHS,
    HIGH,
    HP,
    KILLS,
    LOW,
    OX0,
    OX1,
    OY0,
    OY1,
    PLAYER_RADIUS,
    PLAYER_SPEED,
    PROJECTILE_SPEED,
    PX0,
    PX1,
    PY0,
    PY1,
    SCORE,
    TEAM,
    WIDTH,
    X,
    Y,
)
from gameserver.modes.base import ModeFull, StepOutcome
from gameserver.protocol import ANGLE_SCALE, POSITION_SCALE, Input

if TYPE_CHECKING:
    from gameserver.modes.arena import Arena

INPUT_WIDTH = len(Input._fields)  # seq, move_x, move_y, aim, fire


class WorldFull(ModeFull):
    """No contiguous range of player slots is free in the world."""


class ArenaWorld:
    """The state of many arena rooms in shared arrays."""

    def __init__(self, capacity: int, tick_hz: int, initial: int = 64) -> None:
        self.limit = capacity  # slots it may grow to
        self.capacity = capacity = min(capacity, initial)  # slots it has now
        self.dt = 1.0 / tick_hz
        self.pos = np.zeros((capacity, 2))
        self.aim = np.zeros(capacity)
        self.wire = np.zeros((capacity, 9), dtype=np.int32)
        self.alive = np.zeros(capacity, dtype=bool)
        self.present = np.zeros(capacity, dtype=bool)
        self.ticks_played = np.zeros(capacity, dtype=np.int64)
        self.respawn_at = np.zeros(capacity, dtype=np.int64)
        self.ready_at = np.zeros(capacity, dtype=np.int64)  # first tick the slot may fire again
        self.slot_room = np.zeros(capacity, dtype=np.int64)  # index into room_tick / room_teams
        self.room_tick = np.zeros(1, dtype=np.int64)
        self.room_teams = np.zeros(1, dtype=bool)
        self.room_start = np.zeros(1, dtype=np.int64)
        self.room_seats = np.zeros(1, dtype=np.int64)
        self.free: list[tuple[int, int]] = [(0, capacity)]  # (start, length), sorted
        self.keys: list[int] = []  # free room keys
        # Projectiles of every room, ordered by creation.
        self.p_room = np.zeros(0, dtype=np.int64)
        self.p_owner = np.zeros(0, dtype=np.int64)  # world slot
        self.p_pos = np.zeros((0, 2))
        self.p_prev = np.zeros((0, 2))  # position at the start of the step (swept hit test)
        self.p_vel = np.zeros((0, 2))
        self.p_expire = np.zeros(0, dtype=np.int64)
        self.p_wire = np.zeros((0, 7), dtype=np.int32)
        self._no_objects = self.p_wire
        self._groups: dict[int, np.ndarray] | None = None  # room key -> wire rows (objects_of)

    # --- slots ------------------------------------------------------------------------

    _SLOT_ARRAYS = ("pos", "aim", "wire", "alive", "present", "ticks_played", "respawn_at", "ready_at", "slot_room")

    def _grow(self, needed: int) -> bool:
        """Double the slot arrays (up to the limit) until ``needed`` more slots fit at the end."""
        tail = self.free[-1][1] if self.free and sum(self.free[-1]) == self.capacity else 0
        size = self.capacity
        while size - self.capacity + tail < needed and size < self.limit:
            size = min(self.limit, size * 2)
        if size - self.capacity + tail < needed:
            return False
        for name in self._SLOT_ARRAYS:
            old = getattr(self, name)
            new = np.zeros((size, *old.shape[1:]), dtype=old.dtype)
            new[: self.capacity] = old
            setattr(self, name, new)
        self.free.append((self.capacity, size - self.capacity))
        self.capacity = size
        self._merge_free()
        return True

    def _merge_free(self) -> None:
        self.free.sort()
        merged: list[tuple[int, int]] = []
        for s, length in self.free:
            if merged and merged[-1][0] + merged[-1][1] == s:
                merged[-1] = (merged[-1][0], merged[-1][1] + length)
            else:
                merged.append((s, length))
        self.free = merged

    def _take(self, n: int) -> int | None:
        for i, (start, length) in enumerate(self.free):
            if length >= n:
                self.free[i] = (start + n, length - n)
                if length == n:
                    del self.free[i]
                return start
        return None

    def allocate(self, n: int, teams: bool) -> tuple[int, int]:
        start = self._take(n)
        if start is None and self._grow(n):
            start = self._take(n)
        if start is None:
            raise WorldFull(f"no {n} free player slots")
        if self.keys:
            key = self.keys.pop()
        else:
            key = len(self.room_tick)
            self.room_tick = np.append(self.room_tick, 0)
            self.room_teams = np.append(self.room_teams, False)
            self.room_start = np.append(self.room_start, 0)
            self.room_seats = np.append(self.room_seats, 0)
        self.room_tick[key] = 0
        self.room_teams[key] = teams
        self.room_start[key] = start
        self.room_seats[key] = n
        end = start + n
        self.slot_room[start:end] = key
        for array in (self.pos, self.aim, self.wire, self.alive, self.present, self.ticks_played,
                      self.respawn_at, self.ready_at):
            array[start:end] = 0
        return start, key

    def release(self, start: int, n: int, key: int) -> None:
        self.present[start:start + n] = False
        self.alive[start:start + n] = False
        self.keep_projectiles(self.p_room != key)
        self.keys.append(key)
        self.free.append((start, n))
        self._merge_free()

    def objects_of(self, key: int) -> np.ndarray:
        """The wire rows of one room's projectiles, in creation order.

        Grouped for every room at once and cached until the projectiles change, so reading
        each room's objects after a batch step costs one sort, not one scan per room.
        """
        if self._groups is None:
            order = np.argsort(self.p_room, kind="stable")
            rooms = self.p_room[order]
            cuts = np.flatnonzero(np.diff(rooms)) + 1
            starts = [0, *cuts.tolist()]
            ends = [*cuts.tolist(), len(order)]
            rows = self.p_wire[order]
            self._groups = {int(rooms[a]): rows[a:b] for a, b in zip(starts, ends) if b > a}
        return self._groups.get(key, self._no_objects)

    def keep_projectiles(self, keep: np.ndarray) -> None:
        if np.count_nonzero(keep) == len(keep):
            return
        self._groups = None
        self.p_room = self.p_room[keep]
        self.p_owner = self.p_owner[keep]
        self.p_pos = self.p_pos[keep]
        self.p_prev = self.p_prev[keep]
        self.p_vel = self.p_vel[keep]
        self.p_expire = self.p_expire[keep]
        self.p_wire = self.p_wire[keep]

    # --- one step of several rooms ------------------------------------------------------

    def step(self, arenas: Sequence[Arena], inputs: Sequence[Mapping[int, Input]]) -> list[StepOutcome]:
        cap = self.capacity
        outcomes = [StepOutcome() for _ in arenas]
        stepping = np.zeros(cap, dtype=bool)
        move = np.zeros((cap, 2))
        fire = np.zeros(cap, dtype=bool)
        slots: list[int] = []
        rows: list[Input] = []
        for arena, room_inputs in zip(arenas, inputs):
            arena.tick += 1
            arena.scored = False
            self.room_tick[arena.key] = arena.tick
            stepping[arena.start:arena.end] = True
            if room_inputs:
                base = arena.start
                slots += [base + seat for seat in room_inputs]
                rows += room_inputs.values()
        if slots:
            # [seq, move_x, move_y, aim, fire] rows, read in one pass (a third of np.array's time).
            table = np.fromiter(chain.from_iterable(rows), float, count=INPUT_WIDTH * len(rows))
            table = table.reshape(len(rows), INPUT_WIDTH)
            move[slots] = table[:, 1:3]
            self.aim[slots] = table[:, 3]
            fire[slots] = table[:, 4] > 0
        alive = self.alive  # only present slots are alive; others have no input
        move *= alive[:, None]
        fire &= alive
        tick = self.room_tick[self.slot_room]  # each slot's room tick
        self._move_players(move)
        p_step = stepping[self.p_owner]
        self._move_projectiles(p_step, tick)
        self._fire(fire, tick, arenas)
        self._hits(stepping, {a.key: out for a, out in zip(arenas, outcomes)}, arenas)
        self.ticks_played += self.present & stepping
        wire = self.wire
        wire[:, X:Y + 1] = np.rint(self.pos * POSITION_SCALE)
        wire[:, AIM] = np.rint(self.aim * ANGLE_SCALE)
        for arena, out in zip(arenas, outcomes):
            if arena.dead:
                arena.respawn_due(out)
            out.finished = arena.finished()
        return outcomes

    def _move_players(self, move: np.ndarray) -> None:
        length2 = move[:, 0] * move[:, 0] + move[:, 1] * move[:, 1]
        over = length2 > 1.0
        if np.count_nonzero(over):
            move[over] /= np.sqrt(length2[over])[:, None]
        pos = self.pos
        pos += move * (PLAYER_SPEED * self.dt)
        np.clip(pos, LOW, HIGH, out=pos)
        x, y = pos[:, 0:1], pos[:, 1:2]
        inside = (x > PX0) & (x < PX1) & (y > PY0) & (y < PY1)  # (slots, obstacles)
        if np.count_nonzero(inside):
            for slot, box in zip(*np.nonzero(inside)):  # rare: push out along the shallowest side
                px, py = pos[slot]
                pen = (px - PX0[box], PX1[box] - px, py - PY0[box], PY1[box] - py)
                side = pen.index(min(pen))
                if side == 0:
                    pos[slot, 0] = PX0[box]
                elif side == 1:
                    pos[slot, 0] = PX1[box]
                elif side == 2:
                    pos[slot, 1] = PY0[box]
                else:
                    pos[slot, 1] = PY1[box]

    def _move_projectiles(self, p_step: np.ndarray, tick: np.ndarray) -> None:
        if not np.count_nonzero(p_step):
            return
        self.p_prev = self.p_pos.copy()
        self.p_pos += self.p_vel * (self.dt * p_step[:, None])
        x, y = self.p_pos[:, 0:1], self.p_pos[:, 1:2]
        blocked = ((x > OX0) & (x < OX1) & (y > OY0) & (y < OY1)).any(axis=1)
        outside = ((self.p_pos < 0) | (self.p_pos > WIDTH)).any(axis=1)
        gone = p_step & ((self.p_expire <= tick[self.p_owner]) | outside | blocked)
        self.keep_projectiles(~gone)

    def _fire(self, fire: np.ndarray, tick: np.ndarray, arenas: Sequence[Arena]) -> None:
        shooters = np.flatnonzero(fire & (self.ready_at <= tick))
        if not len(shooters):
            return
        k = len(shooters)
        aim = self.aim[shooters]
        direction = np.empty((k, 2))
        direction[:, 0] = np.cos(aim)
        direction[:, 1] = np.sin(aim)
        start = self.pos[shooters] + direction * (PLAYER_RADIUS + 0.25)
        vel = direction * PROJECTILE_SPEED
        rooms = self.slot_room[shooters]
        when = tick[shooters]
        by_key = {a.key: a for a in arenas}
        wire = np.empty((k, 7), dtype=np.int32)
        ids = []
        for key in rooms.tolist():  # each room numbers its own projectiles
            arena = by_key[key]
            ids.append(arena.next_projectile)
            arena.next_projectile += 1
        wire[:, 0] = ids
        wire[:, 1] = shooters - np.array([by_key[key].start for key in rooms.tolist()])
        wire[:, 2:4] = np.rint(start * POSITION_SCALE)
        wire[:, 4:6] = np.rint(vel * POSITION_SCALE)
        wire[:, 6] = when
        cooldown = np.array([by_key[key].cooldown_ticks for key in rooms.tolist()])
        lifetime = np.array([by_key[key].lifetime_ticks for key in rooms.tolist()])
        self.ready_at[shooters] = when + cooldown
        self.p_room = np.concatenate([self.p_room, rooms])
        self.p_owner = np.concatenate([self.p_owner, shooters])
        self.p_pos = np.concatenate([self.p_pos, start])
        self.p_prev = np.concatenate([self.p_prev, start])
        self.p_vel = np.concatenate([self.p_vel, vel])
        self.p_expire = np.concatenate([self.p_expire, when + lifetime])
        self.p_wire = np.concatenate([self.p_wire, wire])
        self._groups = None

    @staticmethod
    def _column(x: np.ndarray, width: float, columns: int) -> np.ndarray:
        """Column index (1 .. columns - 2) of each x, for the broad phase of ``_hits``."""
        return np.clip((x // width).astype(np.int64) + 1, 1, columns - 2)

    def _hits(self, stepping: np.ndarray, outcomes: dict[int, StepOutcome], arenas: Sequence[Arena]) -> None:
        if not len(self.p_room):
            return
        projectiles = np.flatnonzero(stepping[self.p_owner])
        if not len(projectiles):
            return
        # Broad phase: a projectile can only hit a player of its own room whose x lies
        # within one step's reach of where the projectile ended. Players are sorted by
        # (room, column of width ``reach``); each projectile takes the run of players in its
        # own and the two neighbouring columns of its room, instead of every seat.
        reach = PLAYER_RADIUS + PROJECTILE_SPEED * self.dt
        columns = int(WIDTH / reach) + 3  # one spare column each side keeps rooms apart
        targets = np.flatnonzero(self.alive & stepping)
        if not len(targets):
            return
        target_keys = self.slot_room[targets] * columns + self._column(self.pos[targets, 0], reach, columns)
        order = np.argsort(target_keys, kind="stable")
        sorted_keys, sorted_slots = target_keys[order], targets[order]
        keys = self.p_room[projectiles] * columns + self._column(self.p_pos[projectiles, 0], reach, columns)
        lo = np.searchsorted(sorted_keys, keys - 1, side="left")
        counts = np.searchsorted(sorted_keys, keys + 1, side="right") - lo
        proj = np.repeat(projectiles, counts)
        first = np.cumsum(counts) - counts
        slot = sorted_slots[np.repeat(lo - first, counts) + np.arange(len(proj))]
        keep = self.p_owner[proj] != slot
        if self.room_teams[self.p_room[projectiles]].any():
            keep &= ~(self.room_teams[self.p_room[proj]]
                      & (self.wire[self.p_owner[proj], TEAM] == self.wire[slot, TEAM]))
        proj, slot = proj[keep], slot[keep]
        # Coarse test: the projectile ended this step within one step's reach of the player.
        end = self.p_pos[proj]
        target = self.pos[slot]
        dx, dy = target[:, 0] - end[:, 0], target[:, 1] - end[:, 1]
        near = dx * dx + dy * dy <= reach * reach
        if not np.count_nonzero(near):
            return
        proj, slot = proj[near], slot[near]
        # Swept test on those pairs: distance from the player to the segment the projectile
        # travelled this step, so a fast projectile cannot pass through a player between ticks.
        start = self.p_prev[proj]
        seg = self.p_pos[proj] - start
        rel = self.pos[slot] - start
        sx, sy, rx, ry = seg[:, 0], seg[:, 1], rel[:, 0], rel[:, 1]
        seg_len2 = sx * sx + sy * sy
        t = (rx * sx + ry * sy) / np.where(seg_len2 > 0, seg_len2, 1.0)
        np.clip(t, 0.0, 1.0, out=t)
        ex, ey = rx - t * sx, ry - t * sy
        hit = ex * ex + ey * ey <= PLAYER_RADIUS**2
        if not np.count_nonzero(hit):
            return
        by_key = {a.key: a for a in arenas}
        pairs: dict[int, list[tuple[float, int]]] = {}
        for row, victim, along in zip(proj[hit].tolist(), slot[hit].tolist(), t[hit].tolist()):
            pairs.setdefault(row, []).append((along, victim))
        spent = np.zeros(len(self.p_room), dtype=bool)
        wire = self.wire
        for row in sorted(pairs):  # in creation order: each room sees its own id order
            living = [(along, victim) for along, victim in pairs[row] if self.alive[victim]]
            if not living:
                continue
            victim = min(living)[1]  # the first one on its path
            shooter = int(self.p_owner[row])
            arena = by_key[int(self.p_room[row])]
            out = outcomes[arena.key]
            spent[row] = True
            hp = max(0, int(wire[victim, HP]) - DAMAGE)
            wire[victim, HP] = hp
            out.events.append({"k": "hit", "by": shooter - arena.start, "to": victim - arena.start,
                               "dmg": DAMAGE, "hp": hp})
            if hp == 0:
                self.alive[victim] = False
                wire[victim, ALIVE] = 0
                wire[victim, DEATHS] += 1
                wire[shooter, KILLS] += 1
                wire[shooter, SCORE] += 1
                arena.dead += 1
                arena.scored = True
                self.respawn_at[victim] = arena.tick + arena.respawn_ticks
                arena.next_respawn = min(arena.next_respawn, arena.tick + arena.respawn_ticks)
                out.events.append({"k": "death", "who": victim - arena.start, "by": shooter - arena.start})
        self.keep_projectiles(~spent)
