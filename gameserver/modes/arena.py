"""Arena: a top-down free-for-all (or team) shooter, vectorised with numpy.

Players move, aim and shoot projectiles; a hit takes health; at zero a player dies, the
shooter scores, and the victim respawns after a delay at a seeded spawn point. The match
ends when a player (or team) reaches the score limit or the time runs out.

Deterministic: the only randomness is each room's ``numpy.random.default_rng(config.seed)``,
and nothing reads a clock.

Many rooms share one :class:`ArenaWorld`: their players and projectiles live in the same
arrays (each room owns a contiguous range of player slots), so the server steps every
room due at the same moment with one pass of array operations instead of one pass per
room. Every operation is elementwise or restricted to pairs within one room, so a room
stepped in a batch evolves exactly as it would alone (a test checks this).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from gameserver.modes.base import GameMode, ModeConfig, PlayerResult, Snapshot, StepOutcome
from gameserver.protocol import ANGLE_SCALE, POSITION_SCALE, Input

WIDTH = 64.0  # m
HEIGHT = 64.0  # m
PLAYER_RADIUS = 0.5  # m
PLAYER_SPEED = 6.0  # m/s
PROJECTILE_SPEED = 24.0  # m/s
PROJECTILE_LIFETIME_S = 1.2
FIRE_COOLDOWN_S = 0.25
DAMAGE = 25
MAX_HEALTH = 100
RESPAWN_DELAY_S = 2.0
# Axis-aligned boxes (x0, y0, x1, y1) that block players and projectiles.
OBSTACLES = np.array(
    [[14, 14, 20, 20], [44, 14, 50, 20], [14, 44, 20, 50], [44, 44, 50, 50], [29, 29, 35, 35]],
    dtype=np.float64,
)
_R = PLAYER_RADIUS
# Obstacles grown by the player radius: a player's centre may not enter these.
_PX0, _PY0 = OBSTACLES[:, 0] - _R, OBSTACLES[:, 1] - _R
_PX1, _PY1 = OBSTACLES[:, 2] + _R, OBSTACLES[:, 3] + _R
_OX0, _OY0, _OX1, _OY1 = OBSTACLES.T
_LOW = np.array([_R, _R])
_HIGH = np.array([WIDTH - _R, HEIGHT - _R])
SPAWNS = np.array(
    [[6, 6], [58, 6], [6, 58], [58, 58], [32, 6], [32, 58], [6, 32], [58, 32],
     [24, 24], [40, 40], [24, 40], [40, 24]],
    dtype=np.float64,
)


# Columns of the wire matrix: the replicated state of each player slot, in wire units.
X, Y, AIM, HP, ALIVE, SCORE, KILLS, DEATHS, TEAM = range(9)


class WorldFull(Exception):
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

    def keep_projectiles(self, keep: np.ndarray) -> None:
        if keep.all():
            return
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
        rows: list[tuple[float, float, float, bool]] = []
        for arena, room_inputs in zip(arenas, inputs):
            arena.tick += 1
            self.room_tick[arena.key] = arena.tick
            stepping[arena.start:arena.end] = True
            base = arena.start
            for seat, i in room_inputs.items():
                slots.append(base + seat)
                rows.append((i.move_x, i.move_y, i.aim, i.fire))
        if slots:
            table = np.array(rows)
            move[slots] = table[:, :2]
            self.aim[slots] = table[:, 2]
            fire[slots] = table[:, 3] > 0
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
        np.clip(pos, _LOW, _HIGH, out=pos)
        x, y = pos[:, 0:1], pos[:, 1:2]
        inside = (x > _PX0) & (x < _PX1) & (y > _PY0) & (y < _PY1)  # (slots, obstacles)
        if np.count_nonzero(inside):
            for slot, box in zip(*np.nonzero(inside)):  # rare: push out along the shallowest side
                px, py = pos[slot]
                pen = (px - _PX0[box], _PX1[box] - px, py - _PY0[box], _PY1[box] - py)
                side = pen.index(min(pen))
                if side == 0:
                    pos[slot, 0] = _PX0[box]
                elif side == 1:
                    pos[slot, 0] = _PX1[box]
                elif side == 2:
                    pos[slot, 1] = _PY0[box]
                else:
                    pos[slot, 1] = _PY1[box]

    def _move_projectiles(self, p_step: np.ndarray, tick: np.ndarray) -> None:
        if not np.count_nonzero(p_step):
            return
        self.p_prev = self.p_pos.copy()
        self.p_pos += self.p_vel * (self.dt * p_step[:, None])
        x, y = self.p_pos[:, 0:1], self.p_pos[:, 1:2]
        blocked = ((x > _OX0) & (x < _OX1) & (y > _OY0) & (y < _OY1)).any(axis=1)
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

    def _hits(self, stepping: np.ndarray, outcomes: dict[int, StepOutcome], arenas: Sequence[Arena]) -> None:
        if not len(self.p_room):
            return
        projectiles = np.flatnonzero(stepping[self.p_owner])
        if not len(projectiles):
            return
        # Pairs (projectile, slot of its own room): rooms own contiguous slot ranges.
        rooms = self.p_room[projectiles]
        counts = self.room_seats[rooms]
        proj = np.repeat(projectiles, counts)
        first = np.cumsum(counts) - counts
        slot = np.repeat(self.room_start[rooms] - first, counts) + np.arange(len(proj))
        keep = self.alive[slot] & (self.p_owner[proj] != slot)
        if self.room_teams[rooms].any():
            keep &= ~(self.room_teams[self.p_room[proj]]
                      & (self.wire[self.p_owner[proj], TEAM] == self.wire[slot, TEAM]))
        proj, slot = proj[keep], slot[keep]
        # Coarse test: the projectile ended this step within one step's reach of the player.
        reach = PLAYER_RADIUS + PROJECTILE_SPEED * self.dt
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
                self.respawn_at[victim] = arena.tick + arena.respawn_ticks
                out.events.append({"k": "death", "who": victim - arena.start, "by": shooter - arena.start})
        self.keep_projectiles(~spent)


class Arena(GameMode):
    name: ClassVar[str] = "arena"
    player_columns: ClassVar[tuple[str, ...]] = (
        "x_cm", "y_cm", "aim_mrad", "hp", "alive", "score", "kills", "deaths", "team",
    )
    motion_columns: ClassVar[int] = 3
    object_columns: ClassVar[tuple[str, ...]] = (
        "id", "owner", "x_cm", "y_cm", "vx_cm_s", "vy_cm_s", "spawn_tick",
    )

    def __init__(self, config: ModeConfig, world: ArenaWorld | None = None) -> None:
        super().__init__(config)
        self.world = world if world is not None else ArenaWorld(config.seats, config.tick_hz)
        if abs(self.world.dt - 1.0 / config.tick_hz) > 1e-12:
            raise ValueError("a world holds rooms of one tick rate")
        self.start, self.key = self.world.allocate(config.seats, bool(config.teams))
        self.end = self.start + config.seats
        self.dt = self.world.dt
        self.rng = np.random.default_rng(config.seed)
        self.tick = 0
        self.dead = 0  # present players waiting to respawn
        self.next_projectile = 1
        self.closed = False
        self.cooldown_ticks = max(1, round(FIRE_COOLDOWN_S * config.tick_hz))
        self.respawn_ticks = max(1, round(RESPAWN_DELAY_S * config.tick_hz))
        self.lifetime_ticks = max(1, round(PROJECTILE_LIFETIME_S * config.tick_hz))
        self.time_limit_ticks = max(1, round(config.time_limit_s * config.tick_hz))

    # Views of this room's rows (slices of the world's arrays share their memory).
    @property
    def pos(self) -> np.ndarray:
        return self.world.pos[self.start:self.end]

    @property
    def present(self) -> np.ndarray:
        return self.world.present[self.start:self.end]

    @property
    def alive(self) -> np.ndarray:
        return self.world.alive[self.start:self.end]

    def column(self, index: int) -> np.ndarray:
        return self.world.wire[self.start:self.end, index]

    @property
    def score(self) -> np.ndarray:
        return self.column(SCORE)

    @property
    def kills(self) -> np.ndarray:
        return self.column(KILLS)

    @property
    def deaths(self) -> np.ndarray:
        return self.column(DEATHS)

    # --- seats -----------------------------------------------------------------------

    def join(self, seat: int, team: int) -> None:
        w, slot = self.world, self.start + seat
        w.present[slot] = True
        w.wire[slot] = 0
        w.wire[slot, TEAM] = team
        w.ticks_played[slot] = 0
        self._spawn(seat)
        w.wire[slot, X:Y + 1] = np.rint(w.pos[slot] * POSITION_SCALE)

    def leave(self, seat: int) -> None:
        w, slot = self.world, self.start + seat
        if w.present[slot] and not w.alive[slot]:
            self.dead -= 1
        w.present[slot] = False
        w.alive[slot] = False
        w.wire[slot, ALIVE] = 0
        w.keep_projectiles(w.p_owner != slot)

    def _spawn(self, seat: int) -> None:
        w, slot = self.world, self.start + seat
        w.pos[slot] = SPAWNS[int(self.rng.integers(len(SPAWNS)))]
        w.wire[slot, HP] = MAX_HEALTH
        w.wire[slot, ALIVE] = 1
        w.alive[slot] = True
        w.ready_at[slot] = self.tick

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.world.release(self.start, self.config.seats, self.key)

    # --- stepping ----------------------------------------------------------------------

    def step(self, inputs: Mapping[int, Input]) -> StepOutcome:
        return self.world.step([self], [inputs])[0]

    @classmethod
    def step_many(cls, modes: Sequence[GameMode], inputs: Sequence[Mapping[int, Input]]) -> list[StepOutcome]:
        by_world: dict[int, list[int]] = {}
        for i, mode in enumerate(modes):
            assert isinstance(mode, Arena)
            by_world.setdefault(id(mode.world), []).append(i)
        out: list[StepOutcome | None] = [None] * len(modes)
        for indices in by_world.values():
            arenas = [modes[i] for i in indices]
            world = arenas[0].world  # type: ignore[attr-defined]
            for i, outcome in zip(indices, world.step(arenas, [inputs[i] for i in indices])):
                out[i] = outcome
        return out  # type: ignore[return-value]

    def respawn_due(self, out: StepOutcome) -> None:
        w, s, e = self.world, self.start, self.end
        due = np.flatnonzero(w.present[s:e] & ~w.alive[s:e] & (w.respawn_at[s:e] <= self.tick))
        for seat in due.tolist():
            self._spawn(seat)
            self.dead -= 1
            x, y = np.rint(w.pos[s + seat] * POSITION_SCALE).astype(int).tolist()
            w.wire[s + seat, X] = x
            w.wire[s + seat, Y] = y
            out.events.append({"k": "respawn", "who": seat, "x": x, "y": y})

    def finished(self) -> str | None:
        if self.tick >= self.time_limit_ticks:
            return "time"
        present = self.present
        score = self.column(SCORE)
        if self.config.teams:
            team_scores = np.bincount(self.column(TEAM)[present], weights=score[present], minlength=self.config.teams)
            if len(team_scores) and team_scores.max() >= self.config.score_limit:
                return "score"
        elif int(score.max(initial=0, where=present)) >= self.config.score_limit:
            return "score"
        return None

    # --- views -----------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        w = self.world
        return Snapshot(self.tick, w.wire[self.start:self.end].copy(), w.present[self.start:self.end].copy(),
                        w.p_wire[w.p_room == self.key])

    def projectile_count(self) -> int:
        return int(np.count_nonzero(self.world.p_room == self.key))

    def results(self) -> list[PlayerResult]:
        w, s = self.world, self.start
        return [
            PlayerResult(
                seat=seat, score=int(w.wire[s + seat, SCORE]), kills=int(w.wire[s + seat, KILLS]),
                deaths=int(w.wire[s + seat, DEATHS]), time_played_s=round(float(w.ticks_played[s + seat]) * self.dt, 3),
                team=int(w.wire[s + seat, TEAM]),
            )
            for seat in range(self.config.seats)
            if w.ticks_played[s + seat] > 0 or w.present[s + seat]
        ]

    def map_info(self) -> dict[str, Any]:
        return {
            "name": "arena-1",
            "width_cm": int(WIDTH * POSITION_SCALE),
            "height_cm": int(HEIGHT * POSITION_SCALE),
            "obstacles_cm": (OBSTACLES * POSITION_SCALE).astype(int).tolist(),
            "spawns_cm": (SPAWNS * POSITION_SCALE).astype(int).tolist(),
            "player_radius_cm": int(PLAYER_RADIUS * POSITION_SCALE),
            "player_speed_cm_s": int(PLAYER_SPEED * POSITION_SCALE),
            "projectile_speed_cm_s": int(PROJECTILE_SPEED * POSITION_SCALE),
            "projectile_lifetime_ms": int(PROJECTILE_LIFETIME_S * 1000),
            "fire_cooldown_ms": int(FIRE_COOLDOWN_S * 1000),
            "respawn_delay_ms": int(RESPAWN_DELAY_S * 1000),
            "max_hp": MAX_HEALTH,
            "damage": DAMAGE,
            "score_limit": self.config.score_limit,
            "time_limit_s": self.config.time_limit_s,
        }
