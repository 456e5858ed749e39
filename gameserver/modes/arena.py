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
        self.hp = np.zeros(n, dtype=np.int32)
        self.alive = np.zeros(n, dtype=bool)
        self.present = np.zeros(n, dtype=bool)
        self.team = np.zeros(n, dtype=np.int32)
        self.score = np.zeros(n, dtype=np.int32)
        self.kills = np.zeros(n, dtype=np.int32)
        self.deaths = np.zeros(n, dtype=np.int32)
        self.ticks_played = np.zeros(n, dtype=np.int64)
        self.respawn_at = np.zeros(n, dtype=np.int64)
        self.ready_at = np.zeros(n, dtype=np.int64)  # first tick the seat may fire again
        self.cooldown_ticks = max(1, round(FIRE_COOLDOWN_S * config.tick_hz))
        self.respawn_ticks = max(1, round(RESPAWN_DELAY_S * config.tick_hz))
        self.lifetime_ticks = max(1, round(PROJECTILE_LIFETIME_S * config.tick_hz))
        self.time_limit_ticks = max(1, round(config.time_limit_s * config.tick_hz))
        # Projectiles: parallel arrays, one row per live projectile, ordered by id.
        self.next_projectile = 1
        self.p_id = np.zeros(0, dtype=np.int64)
        self.p_owner = np.zeros(0, dtype=np.int32)
        self.p_pos = np.zeros((0, 2))
        self.p_prev = np.zeros((0, 2))  # position at the start of this step (swept hit test)
        self.p_vel = np.zeros((0, 2))
        self.p_expire = np.zeros(0, dtype=np.int64)
        self.p_wire = np.zeros((0, len(self.object_columns)), dtype=np.int32)

    # --- seats -----------------------------------------------------------------------

    def join(self, seat: int, team: int) -> None:
        self.present[seat] = True
        self.team[seat] = team
        self.score[seat] = self.kills[seat] = self.deaths[seat] = 0
        self.ticks_played[seat] = 0
        self._spawn(seat)

    def leave(self, seat: int) -> None:
        self.present[seat] = False
        self.alive[seat] = False
        keep = self.p_owner != seat
        self._keep_projectiles(keep)

    def _spawn(self, seat: int) -> None:
        self.pos[seat] = SPAWNS[int(self.rng.integers(len(SPAWNS)))]
        self.hp[seat] = MAX_HEALTH
        self.alive[seat] = True
        self.ready_at[seat] = self.tick

    # --- the step --------------------------------------------------------------------

    def step(self, inputs: Mapping[int, Input]) -> StepOutcome:
        self.tick += 1
        out = StepOutcome()
        n = self.config.seats
        move = np.zeros((n, 2))
        fire = np.zeros(n, dtype=bool)
        for seat in sorted(inputs):
            inp = inputs[seat]
            move[seat, 0] = inp.move_x
            move[seat, 1] = inp.move_y
            self.aim[seat] = inp.aim
            fire[seat] = inp.fire
        active = self.present & self.alive
        move[~active] = 0.0
        fire &= active
        self._move_players(move)
        self._move_projectiles()
        self._fire(fire)
        self._hits(out)
        self._respawn(out)
        self.ticks_played[self.present] += 1
        out.finished = self._finished()
        return out

    def _move_players(self, move: np.ndarray) -> None:
        length = np.hypot(move[:, 0], move[:, 1])
        over = length > 1.0
        move[over] /= length[over, None]
        self.pos += move * (PLAYER_SPEED * self.dt)
        r = PLAYER_RADIUS
        np.clip(self.pos[:, 0], r, WIDTH - r, out=self.pos[:, 0])
        np.clip(self.pos[:, 1], r, HEIGHT - r, out=self.pos[:, 1])
        x, y = self.pos[:, 0], self.pos[:, 1]
        for x0, y0, x1, y1 in OBSTACLES:
            inside = (x > x0 - r) & (x < x1 + r) & (y > y0 - r) & (y < y1 + r)
            if not inside.any():
                continue
            pen = np.stack([x - (x0 - r), (x1 + r) - x, y - (y0 - r), (y1 + r) - y], axis=1)[inside]
            side = np.argmin(pen, axis=1)
            idx = np.flatnonzero(inside)
            x[idx[side == 0]] = x0 - r
            x[idx[side == 1]] = x1 + r
            y[idx[side == 2]] = y0 - r
            y[idx[side == 3]] = y1 + r

    def _move_projectiles(self) -> None:
        if not len(self.p_id):
            return
        self.p_prev = self.p_pos.copy()
        self.p_pos += self.p_vel * self.dt
        x, y = self.p_pos[:, 0], self.p_pos[:, 1]
        keep = (self.p_expire > self.tick) & (x >= 0) & (x <= WIDTH) & (y >= 0) & (y <= HEIGHT)
        for x0, y0, x1, y1 in OBSTACLES:
            keep &= ~((x > x0) & (x < x1) & (y > y0) & (y < y1))
        self._keep_projectiles(keep)

    def _fire(self, fire: np.ndarray) -> None:
        shooters = np.flatnonzero(fire & (self.ready_at <= self.tick))
        if not len(shooters):
            return
        k = len(shooters)
        direction = np.stack([np.cos(self.aim[shooters]), np.sin(self.aim[shooters])], axis=1)
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
        self.p_owner = np.concatenate([self.p_owner, shooters.astype(np.int32)])
        self.p_pos = np.concatenate([self.p_pos, start])
        self.p_prev = np.concatenate([self.p_prev, start])
        self.p_vel = np.concatenate([self.p_vel, vel])
        self.p_expire = np.concatenate([self.p_expire, np.full(k, self.tick + self.lifetime_ticks)])
        self.p_wire = np.concatenate([self.p_wire, wire])

    def _hits(self, out: StepOutcome) -> None:
        if not len(self.p_id):
            return
        targets = self.present & self.alive
        # Swept test: distance from each player to the segment the projectile travelled this
        # step, so a fast projectile cannot pass through a player between two ticks.
        seg = self.p_pos - self.p_prev  # (P, 2)
        seg_len2 = np.einsum("pk,pk->p", seg, seg)
        rel = self.pos[None, :, :] - self.p_prev[:, None, :]  # (P, N, 2)
        t = np.einsum("pnk,pk->pn", rel, seg) / np.where(seg_len2 > 0, seg_len2, 1.0)[:, None]
        np.clip(t, 0.0, 1.0, out=t)
        d = rel - t[:, :, None] * seg[:, None, :]
        dist2 = np.einsum("pnk,pnk->pn", d, d)
        hit = (dist2 <= PLAYER_RADIUS**2) & targets[None, :]
        hit[np.arange(len(self.p_id)), self.p_owner] = False
        if self.config.teams:
            hit &= self.team[None, :] != self.team[self.p_owner][:, None]
        rows = np.flatnonzero(hit.any(axis=1))
        if not len(rows):
            return
        spent = np.zeros(len(self.p_id), dtype=bool)
        for row in rows:  # few per tick; in id order for determinism
            candidates = np.flatnonzero(hit[row] & self.alive)
            if not len(candidates):
                continue
            victim = int(candidates[np.argmin(t[row, candidates])])  # the first one on its path
            shooter = int(self.p_owner[row])
            spent[row] = True
            self.hp[victim] = max(0, int(self.hp[victim]) - DAMAGE)
            out.events.append({"k": "hit", "by": shooter, "to": victim, "dmg": DAMAGE, "hp": int(self.hp[victim])})
            if self.hp[victim] == 0:
                self.alive[victim] = False
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
            x, y = (np.rint(self.pos[seat] * POSITION_SCALE)).astype(int)
            out.events.append({"k": "respawn", "who": int(seat), "x": int(x), "y": int(y)})

    def _finished(self) -> str | None:
        if self.config.teams:
            team_scores = np.bincount(self.team[self.present], weights=self.score[self.present],
                                      minlength=self.config.teams)
            if len(team_scores) and team_scores.max() >= self.config.score_limit:
                return "score"
        elif self.present.any() and self.score[self.present].max() >= self.config.score_limit:
            return "score"
        if self.tick >= self.time_limit_ticks:
            return "time"
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
        players[:, 0:2] = np.rint(self.pos * POSITION_SCALE)
        players[:, 2] = np.rint(self.aim * ANGLE_SCALE)
        players[:, 3] = self.hp
        players[:, 4] = self.alive
        players[:, 5] = self.score
        players[:, 6] = self.kills
        players[:, 7] = self.deaths
        players[:, 8] = self.team
        return Snapshot(self.tick, players, self.present.copy(), self.p_wire.copy())

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
            "player_radius_cm": int(PLAYER_RADIUS * POSITION_SCALE),
            "player_speed_cm_s": int(PLAYER_SPEED * POSITION_SCALE),
            "projectile_speed_cm_s": int(PROJECTILE_SPEED * POSITION_SCALE),
            "fire_cooldown_ms": int(FIRE_COOLDOWN_S * 1000),
            "max_hp": MAX_HEALTH,
            "damage": DAMAGE,
            "score_limit": self.config.score_limit,
            "time_limit_s": self.config.time_limit_s,
        }

