"""Arena: a top-down free-for-all (or team) shooter, vectorised with numpy.

Players move, aim and shoot projectiles; a hit takes health; at zero a player dies, the
shooter scores, and the victim respawns after a delay at a seeded spawn point. The match
ends when a player (or team) reaches the score limit or the time runs out.

Deterministic: the only randomness is ``numpy.random.default_rng(config.seed)``, inputs
are applied in seat order, and nothing reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
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


class Arena(GameMode):
    name: ClassVar[str] = "arena"
    player_columns: ClassVar[tuple[str, ...]] = (
        "x_cm", "y_cm", "aim_mrad", "hp", "alive", "score", "kills", "deaths", "team",
    )
    motion_columns: ClassVar[int] = 3
    object_columns: ClassVar[tuple[str, ...]] = (
        "id", "owner", "x_cm", "y_cm", "vx_cm_s", "vy_cm_s", "spawn_tick",
    )

    def __init__(self, config: ModeConfig) -> None:
        super().__init__(config)
        n = config.seats
        self.dt = 1.0 / config.tick_hz
        self.rng = np.random.default_rng(config.seed)
        self.tick = 0
        self.pos = np.zeros((n, 2))
        self.aim = np.zeros(n)
        # The status columns live in one int32 matrix (the wire's order) with a view per
        # column, so a snapshot copies them in one operation.
        self.status = np.zeros((n, 6), dtype=np.int32)
        self.hp, self.alive_col, self.score, self.kills, self.deaths, self.team = (
            self.status[:, i] for i in range(6)
        )
        self.alive = np.zeros(n, dtype=bool)
        self.present = np.zeros(n, dtype=bool)
        self.dead = 0  # present players waiting to respawn
        self.ticks_played = np.zeros(n, dtype=np.int64)
        self.respawn_at = np.zeros(n, dtype=np.int64)
        self.ready_at = np.zeros(n, dtype=np.int64)  # first tick the seat may fire again
        self.cooldown_ticks = max(1, round(FIRE_COOLDOWN_S * config.tick_hz))
        self.respawn_ticks = max(1, round(RESPAWN_DELAY_S * config.tick_hz))
        self.lifetime_ticks = max(1, round(PROJECTILE_LIFETIME_S * config.tick_hz))
        self.time_limit_ticks = max(1, round(config.time_limit_s * config.tick_hz))
        self._motion_scale = np.array([POSITION_SCALE, POSITION_SCALE, ANGLE_SCALE], dtype=np.float64)
        self._motion = np.zeros((n, 3))
        # Projectiles: parallel arrays, one row per live projectile, ordered by id.
        self.next_projectile = 1
        self.p_id = np.zeros(0, dtype=np.int64)
        self.p_owner = np.zeros(0, dtype=np.int64)
        self.p_pos = np.zeros((0, 2))
        self.p_prev = np.zeros((0, 2))  # position at the start of this step (swept hit test)
        self.p_vel = np.zeros((0, 2))
        self.p_expire = np.zeros(0, dtype=np.int64)
        self.p_wire = np.zeros((0, len(self.object_columns)), dtype=np.int32)

    # --- seats -----------------------------------------------------------------------

    def join(self, seat: int, team: int) -> None:
        self.present[seat] = True
        self.status[seat] = 0
        self.team[seat] = team
        self.ticks_played[seat] = 0
        self._spawn(seat)

    def leave(self, seat: int) -> None:
        if self.present[seat] and not self.alive[seat]:
            self.dead -= 1
        self.present[seat] = False
        self.alive[seat] = False
        self.alive_col[seat] = 0
        self._keep_projectiles(self.p_owner != seat)

    def _spawn(self, seat: int) -> None:
        self.pos[seat] = SPAWNS[int(self.rng.integers(len(SPAWNS)))]
        self.hp[seat] = MAX_HEALTH
        self.alive[seat] = True
        self.alive_col[seat] = 1
        self.ready_at[seat] = self.tick

    # --- the step --------------------------------------------------------------------

    def step(self, inputs: Mapping[int, Input]) -> StepOutcome:
        self.tick += 1
        out = StepOutcome()
        n = self.config.seats
        move = np.zeros((n, 2))
        fire = np.zeros(n, dtype=bool)
        if inputs:
            seats = list(inputs)  # each seat once: the order of assignment does not matter
            rows = np.array([(i.move_x, i.move_y, i.aim, i.fire) for i in inputs.values()])
            move[seats] = rows[:, :2]
            self.aim[seats] = rows[:, 2]
            fire[seats] = rows[:, 3] > 0
        alive = self.alive  # only present seats are alive
        move *= alive[:, None]
        fire &= alive
        self._move_players(move)
        self._move_projectiles()
        self._fire(fire)
        self._hits(out)
        if self.dead:
            self._respawn(out)
        self.ticks_played += self.present
        out.finished = self._finished()
        return out

    def _move_players(self, move: np.ndarray) -> None:
        length2 = np.square(move).sum(axis=1)
        over = length2 > 1.0
        if np.count_nonzero(over):
            move[over] /= np.sqrt(length2[over])[:, None]
        pos = self.pos
        pos += move * (PLAYER_SPEED * self.dt)
        np.clip(pos, _LOW, _HIGH, out=pos)
        x, y = pos[:, 0:1], pos[:, 1:2]
        inside = (x > _PX0) & (x < _PX1) & (y > _PY0) & (y < _PY1)  # (players, obstacles)
        if np.count_nonzero(inside):
            for seat, box in zip(*np.nonzero(inside)):  # rare: push out along the shallowest side
                px, py = pos[seat]
                pen = (px - _PX0[box], _PX1[box] - px, py - _PY0[box], _PY1[box] - py)
                side = pen.index(min(pen))
                if side == 0:
                    pos[seat, 0] = _PX0[box]
                elif side == 1:
                    pos[seat, 0] = _PX1[box]
                elif side == 2:
                    pos[seat, 1] = _PY0[box]
                else:
                    pos[seat, 1] = _PY1[box]

    def _move_projectiles(self) -> None:
        if not len(self.p_id):
            return
        self.p_prev = self.p_pos.copy()
        self.p_pos += self.p_vel * self.dt
        x, y = self.p_pos[:, 0:1], self.p_pos[:, 1:2]
        blocked = ((x > _OX0) & (x < _OX1) & (y > _OY0) & (y < _OY1)).any(axis=1)
        outside = ((self.p_pos < 0) | (self.p_pos > WIDTH)).any(axis=1)
        keep = (self.p_expire > self.tick) & ~outside & ~blocked
        self._keep_projectiles(keep)

    def _fire(self, fire: np.ndarray) -> None:
        shooters = np.flatnonzero(fire & (self.ready_at <= self.tick))
        if not len(shooters):
            return
        k = len(shooters)
        aim = self.aim[shooters]
        direction = np.empty((k, 2))
        direction[:, 0] = np.cos(aim)
        direction[:, 1] = np.sin(aim)
        start = self.pos[shooters] + direction * (PLAYER_RADIUS + 0.25)
        vel = direction * PROJECTILE_SPEED
        ids = np.arange(self.next_projectile, self.next_projectile + k, dtype=np.int64)
        self.next_projectile += k
        self.ready_at[shooters] = self.tick + self.cooldown_ticks
        wire = np.empty((k, len(self.object_columns)), dtype=np.int32)
        wire[:, 0] = ids
        wire[:, 1] = shooters
        wire[:, 2:4] = np.rint(start * POSITION_SCALE)
        wire[:, 4:6] = np.rint(vel * POSITION_SCALE)
        wire[:, 6] = self.tick
        self.p_id = np.concatenate([self.p_id, ids])
        self.p_owner = np.concatenate([self.p_owner, shooters])
        self.p_pos = np.concatenate([self.p_pos, start])
        self.p_prev = np.concatenate([self.p_prev, start])
        self.p_vel = np.concatenate([self.p_vel, vel])
        self.p_expire = np.concatenate([self.p_expire, np.full(k, self.tick + self.lifetime_ticks)])
        self.p_wire = np.concatenate([self.p_wire, wire])

    def _hits(self, out: StepOutcome) -> None:
        if not len(self.p_id):
            return
        targets = self.alive
        # Coarse test: pairs where the projectile ended this step within reach of a player.
        reach = PLAYER_RADIUS + PROJECTILE_SPEED * self.dt
        near = self.p_pos[:, None, :] - self.pos[None, :, :]
        cand = (np.square(near).sum(axis=2) <= reach * reach) & targets[None, :]
        cand[np.arange(len(self.p_id)), self.p_owner] = False
        if self.config.teams:
            cand &= self.team[None, :] != self.team[self.p_owner][:, None]
        proj, seat = np.nonzero(cand)
        if not len(proj):
            return
        # Swept test on those pairs: distance from the player to the segment the projectile
        # travelled this step, so a fast projectile cannot pass through a player between ticks.
        start = self.p_prev[proj]
        seg = self.p_pos[proj] - start
        rel = self.pos[seat] - start
        seg_len2 = np.square(seg).sum(axis=1)
        t = (rel * seg).sum(axis=1) / np.where(seg_len2 > 0, seg_len2, 1.0)
        np.clip(t, 0.0, 1.0, out=t)
        d = rel - t[:, None] * seg
        hit = np.square(d).sum(axis=1) <= PLAYER_RADIUS**2
        if not np.count_nonzero(hit):
            return
        spent = np.zeros(len(self.p_id), dtype=bool)
        pairs: dict[int, list[tuple[float, int]]] = {}
        for row, victim, along in zip(proj[hit].tolist(), seat[hit].tolist(), t[hit].tolist()):
            pairs.setdefault(row, []).append((along, victim))
        for row in sorted(pairs):  # in id order for determinism
            living = [(along, victim) for along, victim in pairs[row] if self.alive[victim]]
            if not living:
                continue
            victim = min(living)[1]  # the first one on its path
            shooter = int(self.p_owner[row])
            spent[row] = True
            hp = max(0, int(self.hp[victim]) - DAMAGE)
            self.hp[victim] = hp
            out.events.append({"k": "hit", "by": shooter, "to": victim, "dmg": DAMAGE, "hp": hp})
            if hp == 0:
                self.alive[victim] = False
                self.alive_col[victim] = 0
                self.dead += 1
                self.deaths[victim] += 1
                self.kills[shooter] += 1
                self.score[shooter] += 1
                self.respawn_at[victim] = self.tick + self.respawn_ticks
                out.events.append({"k": "death", "who": victim, "by": shooter})
        self._keep_projectiles(~spent)

    def _respawn(self, out: StepOutcome) -> None:
        due = np.flatnonzero(self.present & ~self.alive & (self.respawn_at <= self.tick))
        for seat in due:
            self._spawn(int(seat))
            self.dead -= 1
            x, y = (np.rint(self.pos[seat] * POSITION_SCALE)).astype(int)
            out.events.append({"k": "respawn", "who": int(seat), "x": int(x), "y": int(y)})

    def _finished(self) -> str | None:
        if self.tick >= self.time_limit_ticks:
            return "time"
        if self.config.teams:
            team_scores = np.bincount(self.team[self.present], weights=self.score[self.present],
                                      minlength=self.config.teams)
            if len(team_scores) and team_scores.max() >= self.config.score_limit:
                return "score"
        elif int(self.score.max(initial=0, where=self.present)) >= self.config.score_limit:
            return "score"
        return None

    def _keep_projectiles(self, keep: np.ndarray) -> None:
        if keep.all():
            return
        self.p_id = self.p_id[keep]
        self.p_owner = self.p_owner[keep]
        self.p_pos = self.p_pos[keep]
        self.p_prev = self.p_prev[keep]
        self.p_vel = self.p_vel[keep]
        self.p_expire = self.p_expire[keep]
        self.p_wire = self.p_wire[keep]

    # --- views -----------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        players = np.empty((self.config.seats, len(self.player_columns)), dtype=np.int32)
        motion = self._motion
        motion[:, :2] = self.pos
        motion[:, 2] = self.aim
        motion *= self._motion_scale
        np.rint(motion, out=motion)
        players[:, :3] = motion
        players[:, 3:] = self.status
        return Snapshot(self.tick, players, self.present.copy(), self.p_wire)

    def results(self) -> list[PlayerResult]:
        return [
            PlayerResult(
                seat=int(s), score=int(self.score[s]), kills=int(self.kills[s]), deaths=int(self.deaths[s]),
                time_played_s=round(float(self.ticks_played[s]) * self.dt, 3), team=int(self.team[s]),
            )
            for s in range(self.config.seats)
            if self.ticks_played[s] > 0 or self.present[s]
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
