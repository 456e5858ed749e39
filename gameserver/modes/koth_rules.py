"""King of the hill: the rules, the map and the pure simulation of one match. No I/O, no clock.

Two teams fight over one hill, a circle that moves between three sites on the centre line
in an order the seed decides. Standing on the hill alone captures it; holding it uncontested
scores: every whole second the owning team holds it, each of its players standing on it
scores a point. Players move, sprint (on stamina) and shove: enemies close by are knocked
back and stunned, and a stunned player neither moves of their own accord nor counts on the
hill. Nobody dies. The match ends when a team's points reach the score limit or the time runs out.

Numbers are in SI units (metres, seconds) unless named otherwise. The state is a handful of
numpy arrays over the room's seats (a room holds at most 16, so array operations on whole
columns beat a loop over players once a room has more than a few). Everything is decided by
the seed and the inputs: the only randomness is the generator handed in, seeded from the room's seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]
BoolArray = npt.NDArray[np.bool_]

# --- the map ----------------------------------------------------------------------------

WIDTH: Final = 48.0  # m
HEIGHT: Final = 32.0  # m
PLAYER_RADIUS: Final = 0.5  # m
# Axis-aligned boxes (x0, y0, x1, y1) that block players; the map is mirror-symmetric about x = 24.
OBSTACLES: Final = np.array(
    [[10, 5, 13, 11], [35, 5, 38, 11], [10, 21, 13, 27], [35, 21, 38, 27], [17, 14, 19, 18], [29, 14, 31, 18]],
    dtype=np.float64,
)
_R = PLAYER_RADIUS
# Obstacles grown by the player radius: a player's centre may not enter these.
_BX0, _BY0 = OBSTACLES[:, 0] - _R, OBSTACLES[:, 1] - _R
_BX1, _BY1 = OBSTACLES[:, 2] + _R, OBSTACLES[:, 3] + _R
HILL_SITES: Final = np.array([[24, 16], [24, 6], [24, 26]], dtype=np.float64)  # the hill's centres
HILL_RADIUS: Final = 4.0  # m
# Each team spawns at its own end of the map, at one of these heights (the seed picks).
SPAWN_X: Final = (3.0, WIDTH - 3.0)
SPAWN_Y: Final = (6.0, 11.0, 16.0, 21.0, 26.0)

# --- movement and shoving ---------------------------------------------------------------

WALK_SPEED: Final = 5.0  # m/s
SPRINT_SPEED: Final = 8.0  # m/s
MAX_STAMINA: Final = 100.0
SPRINT_DRAIN_PER_S: Final = 40.0  # stamina a second of sprinting costs
STAMINA_REGAIN_PER_S: Final = 20.0  # stamina a second without sprinting gives back
WINDED_UNTIL: Final = 25.0  # a player who ran out cannot sprint again until back to this much
SHOVE_RANGE: Final = 2.0  # m, centre to centre
SHOVE_COOLDOWN_S: Final = 1.5
KNOCKBACK_SPEED: Final = 8.0  # m/s, away from the shover(s), while stunned
STUN_S: Final = 0.5  # a shoved player drifts back at KNOCKBACK_SPEED and cannot act

# --- the hill ---------------------------------------------------------------------------

CAPTURE_S: Final = 3.0  # standing alone on the hill this long takes it
PROGRESS_STEP_PCT: Final = 5  # capture progress is replicated in steps of this many percent
NEUTRAL: Final = -1  # the hill's owner (or capturer) when no team is

# Player columns, in wire units (the first MOTION change with every move).
X, Y, STAMINA, TEAM, STUNNED, ON_HILL, SCORE, CAPTURES, SHOVES = range(9)
PLAYER_COLUMNS: Final = ("x_cm", "y_cm", "stamina", "team", "stunned", "on_hill", "score", "captures", "shoves")
MOTION: Final = 3
# The hill's columns: one object, issued afresh (a new id) whenever one of its columns changes.
HILL_COLUMNS: Final = ("id", "x_cm", "y_cm", "radius_cm", "owner", "capturer", "progress_pct")
CM: Final = 100  # wire units per metre


@dataclass(frozen=True, slots=True)
class Rules:
    """One match's limits (the mode's options) and its step length."""

    tick_hz: int
    score_limit: int = 100
    time_limit_s: float = 300.0
    hill_move_s: float = 60.0  # the hill moves to its next site this often

    @property
    def dt(self) -> float:
        return 1.0 / self.tick_hz

    def ticks(self, seconds: float) -> int:
        return max(1, round(seconds * self.tick_hz))


@dataclass(slots=True)
class Controls:
    """This step's inputs, one row per seat (rows of seats that sent nothing are idle)."""

    move: FloatArray  # (seats, 2), each axis -1..1; longer than 1 is cut to 1
    sprint: BoolArray
    shove: BoolArray

    @classmethod
    def idle(cls, seats: int) -> Controls:
        return cls(np.zeros((seats, 2)), np.zeros(seats, dtype=bool), np.zeros(seats, dtype=bool))


@dataclass(slots=True)
class StepReport:
    events: list[dict[str, Any]] = field(default_factory=list)
    finished: str | None = None  # "score" or "time" once the match is over


class KingOfTheHill:
    """The state of one match and the step that advances it."""

    def __init__(self, seats: int, rules: Rules, rng: np.random.Generator) -> None:
        self.seats = seats
        self.rules = rules
        self.rng = rng  # the match's one random source (spawn heights, the hill's order)
        self.tick = 0
        self.pos = np.zeros((seats, 2))
        self.stamina = np.zeros(seats)
        self.winded = np.zeros(seats, dtype=bool)  # ran out of stamina and not yet back to WINDED_UNTIL
        self.knock = np.zeros((seats, 2))  # knockback velocity while stunned
        self.team = np.zeros(seats, dtype=np.int64)
        self.present = np.zeros(seats, dtype=bool)
        self.stunned_until = np.zeros(seats, dtype=np.int64)  # first tick the seat may act again
        self.shove_ready = np.zeros(seats, dtype=np.int64)  # first tick the seat may shove again
        self.ticks_played = np.zeros(seats, dtype=np.int64)
        self.wire = np.zeros((seats, len(PLAYER_COLUMNS)), dtype=np.int32)
        self.team_points = [0, 0]  # every point scored, by players still here or gone
        self.site_order = [int(i) for i in self.rng.permutation(len(HILL_SITES))]
        self.site = 0  # index into site_order
        self.owner = NEUTRAL
        self.capturer = NEUTRAL
        self.progress = 0  # ticks of capture towards ``capturer``
        self.held = 0  # ticks the owner has held the hill uncontested since it last scored
        self.next_hill_id = 1
        self.hill_row: list[int] = []
        self.hill = np.zeros((1, len(HILL_COLUMNS)), dtype=np.int32)
        self.capture_ticks = rules.ticks(CAPTURE_S)
        self.stun_ticks = rules.ticks(STUN_S)
        self.cooldown_ticks = rules.ticks(SHOVE_COOLDOWN_S)
        self.move_ticks = rules.ticks(rules.hill_move_s)
        self.time_limit_ticks = rules.ticks(rules.time_limit_s)
        self._publish_hill()

    # --- seats ----------------------------------------------------------------------------

    def join(self, seat: int, team: int) -> None:
        """Seat a player of ``team`` (0 or 1) at their team's end of the map."""
        if team not in (0, 1):
            raise ValueError("king of the hill is played by teams 0 and 1")
        self.present[seat] = True
        self.team[seat] = team
        self.pos[seat] = (SPAWN_X[team], SPAWN_Y[int(self.rng.integers(len(SPAWN_Y)))])
        self.stamina[seat] = MAX_STAMINA
        self.winded[seat] = False
        self.knock[seat] = 0.0
        self.stunned_until[seat] = self.tick
        self.shove_ready[seat] = self.tick
        self.ticks_played[seat] = 0
        self.wire[seat] = 0
        self.wire[seat, TEAM] = team
        self._write_motion(np.array([seat]))

    def leave(self, seat: int) -> None:
        """The seat is free; the points its player scored stay with their team."""
        self.present[seat] = False
        self.wire[seat, STUNNED] = 0
        self.wire[seat, ON_HILL] = 0

    # --- the step -------------------------------------------------------------------------

    def step(self, controls: Controls) -> StepReport:
        report = StepReport()
        self.tick += 1
        tick = self.tick
        present = self.present
        self.ticks_played[present] += 1
        free = present & (self.stunned_until <= tick)  # may act this step
        self._shove(controls.shove & free, tick, report)
        free &= self.stunned_until <= tick  # a seat shoved just now is stunned from this step on
        self._move(controls, free)
        on_hill = self._on_hill()
        self._contest(on_hill, report)
        if tick % self.move_ticks == 0:
            self._move_hill(report)
        self._write_motion(np.flatnonzero(present))
        self.wire[:, STUNNED] = present & (self.stunned_until > tick)
        self.wire[:, ON_HILL] = on_hill
        if max(self.team_points) >= self.rules.score_limit:
            report.finished = "score"
        elif tick >= self.time_limit_ticks:
            report.finished = "time"
        return report

    def _shove(self, shoving: BoolArray, tick: int, report: StepReport) -> None:
        if not shoving.any():
            return
        shoving &= self.shove_ready <= tick
        shovers = np.flatnonzero(shoving)
        if not len(shovers):
            return
        self.shove_ready[shovers] = tick + self.cooldown_ticks
        targets_ok = self.present & (self.stunned_until <= tick)  # a stunned seat cannot be shoved again
        diff = self.pos[None, :, :] - self.pos[shovers, None, :]  # (shovers, seats, 2): shover to target
        dist = np.hypot(diff[..., 0], diff[..., 1])
        hit = (dist <= SHOVE_RANGE) & (self.team[None, :] != self.team[shovers, None]) & targets_ok[None, :]
        if not hit.any():
            return
        # Each target is pushed along the sum of the directions away from the shovers that hit it
        # (back towards its own end of the map when those cancel, or when it stands on a shover).
        unit = diff / np.maximum(dist, 1e-9)[..., None]
        push = (unit * hit[..., None]).sum(axis=0)  # (seats, 2)
        hit_any = hit.any(axis=0)
        targets = np.flatnonzero(hit_any)
        norm = np.hypot(push[targets, 0], push[targets, 1])
        fallback = np.where(self.team[targets, None] == 0, [[-1.0, 0.0]], [[1.0, 0.0]])  # back towards its base
        direction = np.where((norm > 1e-9)[:, None], push[targets] / np.maximum(norm, 1e-9)[:, None], fallback)
        self.knock[targets] = direction * KNOCKBACK_SPEED
        self.stunned_until[targets] = tick + self.stun_ticks
        counts = hit.sum(axis=1)
        self.wire[shovers, SHOVES] += counts.astype(np.int32)
        for i, shover in enumerate(shovers.tolist()):
            if counts[i]:
                report.events.append({"k": "shove", "who": shover, "hit": np.flatnonzero(hit[i]).tolist()})

    def _move(self, controls: Controls, free: BoolArray) -> None:
        dt = self.rules.dt
        move = controls.move
        length = np.hypot(move[:, 0], move[:, 1])
        move = move / np.maximum(length, 1.0)[:, None]
        moving = free & (length > 0)
        sprinting = moving & controls.sprint & ~self.winded
        speed = np.where(sprinting, SPRINT_SPEED, WALK_SPEED)
        vel = move * speed[:, None] * free[:, None]
        stunned = self.present & ~free
        vel[stunned] = self.knock[stunned]
        self.stamina = np.where(sprinting, np.maximum(0.0, self.stamina - SPRINT_DRAIN_PER_S * dt),
                                np.minimum(MAX_STAMINA, self.stamina + STAMINA_REGAIN_PER_S * dt * self.present))
        self.winded = np.where(self.winded, self.stamina < WINDED_UNTIL, self.stamina <= 0.0)
        pos = self.pos
        for axis in (0, 1):
            old = pos[:, axis].copy()
            pos[:, axis] = np.clip(old + vel[:, axis] * dt, _R, (WIDTH if axis == 0 else HEIGHT) - _R)
            x, y = pos[:, 0:1], pos[:, 1:2]
            blocked = ((x > _BX0) & (x < _BX1) & (y > _BY0) & (y < _BY1)).any(axis=1)
            pos[blocked, axis] = old[blocked]  # a blocked axis does not move this step

    def _on_hill(self) -> BoolArray:
        cx, cy = HILL_SITES[self.site_order[self.site]]
        d = np.hypot(self.pos[:, 0] - cx, self.pos[:, 1] - cy)
        result: BoolArray = self.present & (d <= HILL_RADIUS) & (self.stunned_until <= self.tick)
        return result

    def _contest(self, on_hill: BoolArray, report: StepReport) -> None:
        counts = np.bincount(self.team[on_hill], minlength=2)
        teams_there = [t for t in (0, 1) if counts[t]]
        if len(teams_there) == 1:
            team = teams_there[0]
            if team == self.owner:
                self.progress, self.capturer = 0, NEUTRAL
                self.held += 1
                if self.held >= self.rules.tick_hz:  # a whole second held: each holder there scores
                    self.held = 0
                    holders = np.flatnonzero(on_hill)
                    self.wire[holders, SCORE] += 1
                    self.team_points[team] += len(holders)
            else:
                if self.capturer != team:
                    self.capturer, self.progress = team, 0
                self.progress += 1
                if self.progress >= self.capture_ticks:
                    self.owner, self.capturer, self.progress, self.held = team, NEUTRAL, 0, 0
                    takers = np.flatnonzero(on_hill)
                    self.wire[takers, CAPTURES] += 1
                    report.events.append({"k": "capture", "team": team, "by": takers.tolist()})
        elif not teams_there:
            self.progress = max(0, self.progress - 1)  # an abandoned capture drains away
            if self.progress == 0:
                self.capturer = NEUTRAL
        # Both teams on the hill: contested, nothing moves.
        self._publish_hill()

    def _move_hill(self, report: StepReport) -> None:
        self.site = (self.site + 1) % len(self.site_order)
        self.owner, self.capturer, self.progress, self.held = NEUTRAL, NEUTRAL, 0, 0
        self._publish_hill()
        x, y = self.hill_row[1:3]
        report.events.append({"k": "hill", "x": x, "y": y})

    def _publish_hill(self) -> None:
        cx, cy = HILL_SITES[self.site_order[self.site]]
        pct = self.progress * 100 // self.capture_ticks // PROGRESS_STEP_PCT * PROGRESS_STEP_PCT
        row = [int(cx * CM), int(cy * CM), int(HILL_RADIUS * CM), self.owner, self.capturer, pct]
        if row != self.hill_row[1:]:
            self.hill_row = [self.next_hill_id, *row]
            self.next_hill_id += 1
            self.hill = np.array([self.hill_row], dtype=np.int32)

    def _write_motion(self, seats: npt.NDArray[np.intp]) -> None:
        self.wire[seats, X:Y + 1] = np.rint(self.pos[seats] * CM)
        self.wire[seats, STAMINA] = np.floor(self.stamina[seats])

    # --- views ----------------------------------------------------------------------------

    def hill_centre(self) -> tuple[float, float]:
        cx, cy = HILL_SITES[self.site_order[self.site]]
        return float(cx), float(cy)
