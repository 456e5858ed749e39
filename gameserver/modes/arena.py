"""Arena: a top-down free-for-all (or team) shooter, vectorised with numpy.

Players move, aim and shoot projectiles; a hit takes health; at zero a player dies, the
shooter scores, and the victim respawns after a delay at a seeded spawn point. The match
ends when a player (or team) reaches the score limit or the time runs out.

Deterministic: the only randomness is each room's ``config.rng()`` (a ``numpy.random.Generator`` seeded from the room seed),
and nothing reads a clock.

A room's state lives in an :class:`~gameserver.modes.arena_world.ArenaWorld`, shared with
other rooms due at the same moment so they can be stepped together (:class:`ArenaFactory`
pools the worlds); an :class:`Arena` is the room's handle on its range of slots. Rules and
map: ``arena_rules``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from gameserver.modes.arena_rules import (
    ALIVE,
    DAMAGE,
    DEATHS,
    FIRE_COOLDOWN_S,
    HEIGHT,
    HP,
    KILLS,
    MAX_HEALTH,
    OBSTACLES,
    PLAYER_RADIUS,
    PLAYER_SPEED,
    PROJECTILE_LIFETIME_S,
    PROJECTILE_SPEED,
    RESPAWN_DELAY_S,
    SCORE,
    SPAWNS,
    TEAM,
    WIDTH,
    X,
    Y,
)
from elysium.modes import (
    Column,
    Columns,
    FloatOption,
    InputSchema,
    IntOption,
    Option,
    ResultRow,
    ResultShape,
    player_columns,
)
from gameserver.modes.arena_world import ArenaWorld, WorldFull
from gameserver.modes.base import GameMode, ModeConfig, ModeFactory, Snapshot, StepOutcome
from gameserver.protocol import ANGLE_SCALE, POSITION_SCALE, V1_INPUT, Input

__all__ = ["DAMAGE", "MAX_HEALTH", "PLAYER_SPEED", "Arena", "ArenaFactory", "ArenaWorld", "WorldFull"]


# The arena's input row is protocol v1's: [seq, move_x, move_y, aim, fire].
INPUT = V1_INPUT

COLUMNS = Columns(
    player=player_columns(
        motion=(Column("x_cm", POSITION_SCALE, "m"), Column("y_cm", POSITION_SCALE, "m"),
                Column("aim_mrad", ANGLE_SCALE, "rad")),
        status=(Column("hp"), Column("alive"), Column("score"), Column("kills"), Column("deaths"), Column("team")),
    ),
    object=(Column("id"), Column("owner"), Column("x_cm", POSITION_SCALE, "m"), Column("y_cm", POSITION_SCALE, "m"),
            Column("vx_cm_s", POSITION_SCALE, "m/s"), Column("vy_cm_s", POSITION_SCALE, "m/s"), Column("spawn_tick")),
)


class Arena(GameMode[Input]):
    name: ClassVar[str] = "arena"
    input_schema: ClassVar[InputSchema] = INPUT
    columns: ClassVar[Columns] = COLUMNS
    options: ClassVar[tuple[Option, ...]] = (
        IntOption("score_limit", "kills (team kills in a team match) that end the match", lo=1, hi=1000, default=10),
        FloatOption("time_limit_s", "seconds after which the match ends", lo=1.0, hi=3600.0, default=120.0),
    )
    result_shape: ClassVar[ResultShape] = ResultShape(reasons=("score", "time"), stats=("kills", "deaths"),
                                                      tiebreak=("deaths",), score="kills")
    seat_range: ClassVar[tuple[int, int]] = (1, 1000)

    MAP: ClassVar[Mapping[str, Any]] = {
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
    }

    @classmethod
    def factory(cls, capacity: int) -> ModeFactory:
        return ArenaFactory(cls, capacity)

    def __init__(self, config: ModeConfig, world: ArenaWorld | None = None) -> None:
        super().__init__(config)
        self.world = world if world is not None else ArenaWorld(config.seats, config.tick_hz)
        if abs(self.world.dt - 1.0 / config.tick_hz) > 1e-12:
            raise ValueError("a world holds rooms of one tick rate")
        self.start, self.key = self.world.allocate(config.seats, bool(config.teams))
        self.end = self.start + config.seats
        self.dt = self.world.dt
        self.rng = config.rng()
        self.score_limit = self.config.int_option("score_limit")
        self.time_limit_s = self.config.float_option("time_limit_s")
        self.tick = 0
        self.dead = 0  # present players waiting to respawn
        self.next_respawn = 0  # no dead player respawns before this tick (respawn_due skips until then)
        self.scored = False  # a kill in this step (the world resets it as each step begins)
        self.next_projectile = 1
        self.closed = False
        self.cooldown_ticks = max(1, round(FIRE_COOLDOWN_S * config.tick_hz))
        self.respawn_ticks = max(1, round(RESPAWN_DELAY_S * config.tick_hz))
        self.lifetime_ticks = max(1, round(PROJECTILE_LIFETIME_S * config.tick_hz))
        self.time_limit_ticks = max(1, round(self.time_limit_s * config.tick_hz))

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
    def step_many(cls, modes: Sequence[GameMode[Input]], inputs: Sequence[Mapping[int, Input]]) -> list[StepOutcome]:
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
        if self.tick < self.next_respawn:
            return  # every dead player's respawn is later (deaths only lower next_respawn)
        w, s, e = self.world, self.start, self.end
        waiting = w.present[s:e] & ~w.alive[s:e]
        when = w.respawn_at[s:e]
        due = np.flatnonzero(waiting & (when <= self.tick))
        later = when[waiting & (when > self.tick)]
        self.next_respawn = int(later.min()) if len(later) else self.tick + 1
        for seat in due.tolist():
            self._spawn(seat)
            self.dead -= 1
            x, y = np.rint(w.pos[s + seat] * POSITION_SCALE).astype(int).tolist()
            w.wire[s + seat, X] = x
            w.wire[s + seat, Y] = y
            out.events.append({"k": "respawn", "who": seat, "x": x, "y": y})

    def finished(self) -> str | None:
        """Why the match ends after this step, if it does.

        The score limit is only looked at after a step with a kill (``scored``): scores rise
        by kills alone, so a step without one cannot have reached it.
        """
        if self.tick >= self.time_limit_ticks:
            return "time"
        if not self.scored:
            return None
        present = self.present
        score = self.column(SCORE)
        if self.config.teams:
            team_scores = np.bincount(self.column(TEAM)[present], weights=score[present], minlength=self.config.teams)
            if len(team_scores) and team_scores.max() >= self.score_limit:
                return "score"
        elif int(score.max(initial=0, where=present)) >= self.score_limit:
            return "score"
        return None

    # --- views -----------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        w = self.world
        return Snapshot(self.tick, w.wire[self.start:self.end].copy(), w.present[self.start:self.end].copy(),
                        w.objects_of(self.key))

    def projectile_count(self) -> int:
        return int(np.count_nonzero(self.world.p_room == self.key))

    def results(self) -> list[ResultRow]:
        w, s = self.world, self.start
        return [
            ResultRow(
                seat=seat, score=int(w.wire[s + seat, SCORE]), team=int(w.wire[s + seat, TEAM]),
                time_played_s=round(float(w.ticks_played[s + seat]) * self.dt, 3),
                stats={"kills": int(w.wire[s + seat, KILLS]), "deaths": int(w.wire[s + seat, DEATHS])},
            )
            for seat in range(self.config.seats)
            if w.ticks_played[s + seat] > 0 or w.present[s + seat]
        ]

    def map_info(self) -> dict[str, Any]:
        return {**self.MAP, "score_limit": self.score_limit, "time_limit_s": self.time_limit_s}


class ArenaFactory(ModeFactory):
    """A server's arena rooms: rooms of one tick rate and one phase of the tick grid share a world.

    They fall due together, so each batch steps exactly one world's rooms and touches no
    others. A world may grow to the server's capacity; a room that finds no free range of
    slots raises :class:`WorldFull` (a :class:`~gameserver.modes.base.ModeFull`).
    """

    def __init__(self, mode: type[Arena], capacity: int) -> None:
        super().__init__(mode, capacity)
        self.arena = mode
        self.worlds: dict[tuple[int, int], ArenaWorld] = {}  # (tick rate, phase) -> world

    def create(self, config: ModeConfig, phase: int) -> Arena:
        world = self.worlds.get((config.tick_hz, phase))
        if world is None:
            world = self.worlds[config.tick_hz, phase] = ArenaWorld(self.capacity, config.tick_hz)
        return self.arena(config, world)
