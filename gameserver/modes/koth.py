"""King of the hill as a game mode: the declarations and the engine's view of
:mod:`gameserver.modes.koth_rules`.

Two teams, up to 16 players. Inputs are a move direction, ``sprint`` and ``shove`` (no aim,
nothing to fire); the one replicated object is the hill. docs/modes-koth.md describes the
game and what a client sees of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple

from elysium.modes import (
    BoolField,
    Column,
    Columns,
    FloatField,
    FloatOption,
    GameMode,
    InputSchema,
    IntOption,
    ModeConfig,
    Option,
    ResultRow,
    ResultShape,
    Snapshot,
    StepOutcome,
    player_columns,
)
from gameserver.modes import koth_rules as kr

MAX_SEATS = 16


class HillInput(NamedTuple):
    """One input row: ``[seq, move_x, move_y, sprint, shove]`` on the wire."""

    seq: int
    move_x: float  # -1..1; a longer (move_x, move_y) is cut to length 1
    move_y: float
    sprint: bool
    shove: bool


INPUT = InputSchema((
    FloatField("move_x", lo=-1.0, hi=1.0),
    FloatField("move_y", lo=-1.0, hi=1.0),
    BoolField("sprint"),  # kept while nothing new arrives, like the move
    BoolField("shove", hold=False, latch=True),  # once per input; one merged away is carried
), row_type=HillInput)

_CM, _M = kr.CM, "m"
COLUMNS = Columns(
    player=player_columns(
        motion=(Column("x_cm", _CM, _M), Column("y_cm", _CM, _M), Column("stamina")),
        status=(Column("team"), Column("stunned"), Column("on_hill"), Column("score"), Column("captures"),
                Column("shoves")),
    ),
    object=(Column("id"), Column("x_cm", _CM, _M), Column("y_cm", _CM, _M), Column("radius_cm", _CM, _M),
            Column("owner"), Column("capturer"), Column("progress_pct")),
)
assert COLUMNS.player_names == kr.PLAYER_COLUMNS and COLUMNS.object_names == kr.HILL_COLUMNS


class KingOfTheHill(GameMode[HillInput]):
    name: ClassVar[str] = "koth"
    input_schema: ClassVar[InputSchema] = INPUT
    columns: ClassVar[Columns] = COLUMNS
    options: ClassVar[tuple[Option, ...]] = (
        IntOption("score_limit", "team points that win the match", lo=1, hi=10_000, default=100),
        FloatOption("time_limit_s", "seconds after which the match ends", lo=10.0, hi=3600.0, default=300.0),
        FloatOption("hill_move_s", "seconds between moves of the hill to its next site", lo=5.0, hi=3600.0,
                    default=60.0),
    )
    result_shape: ClassVar[ResultShape] = ResultShape(reasons=("score", "time"), stats=("captures", "shoves"),
                                                      score="points: a second on the held hill")
    seat_range: ClassVar[tuple[int, int]] = (1, MAX_SEATS)
    team_range: ClassVar[tuple[int, int]] = (2, 2)
    tick_hz_range: ClassVar[tuple[int, int]] = (10, 60)

    MAP: ClassVar[Mapping[str, Any]] = {
        "name": "hill-1",
        "width_cm": int(kr.WIDTH * kr.CM),
        "height_cm": int(kr.HEIGHT * kr.CM),
        "obstacles_cm": (kr.OBSTACLES * kr.CM).astype(int).tolist(),
        "hill_sites_cm": (kr.HILL_SITES * kr.CM).astype(int).tolist(),
        "hill_radius_cm": int(kr.HILL_RADIUS * kr.CM),
        "spawns_cm": [[[int(x * kr.CM), int(y * kr.CM)] for y in kr.SPAWN_Y] for x in kr.SPAWN_X],
        "player_radius_cm": int(kr.PLAYER_RADIUS * kr.CM),
        "walk_speed_cm_s": int(kr.WALK_SPEED * kr.CM),
        "sprint_speed_cm_s": int(kr.SPRINT_SPEED * kr.CM),
        "max_stamina": int(kr.MAX_STAMINA),
        "shove_range_cm": int(kr.SHOVE_RANGE * kr.CM),
        "shove_cooldown_ms": int(kr.SHOVE_COOLDOWN_S * 1000),
        "stun_ms": int(kr.STUN_S * 1000),
        "capture_ms": int(kr.CAPTURE_S * 1000),
    }

    def __init__(self, config: ModeConfig) -> None:
        super().__init__(config)
        c = self.config
        self.rules = kr.Rules(tick_hz=c.tick_hz, score_limit=c.int_option("score_limit"),
                              time_limit_s=c.float_option("time_limit_s"), hill_move_s=c.float_option("hill_move_s"))
        self.game = kr.KingOfTheHill(c.seats, self.rules, c.rng())

    def join(self, seat: int, team: int) -> None:
        self.game.join(seat, team)

    def leave(self, seat: int) -> None:
        self.game.leave(seat)

    def step(self, inputs: Mapping[int, HillInput]) -> StepOutcome:
        controls = kr.Controls.idle(self.config.seats)
        move, sprint, shove = controls.move, controls.sprint, controls.shove
        for seat, inp in inputs.items():
            move[seat, 0] = inp.move_x
            move[seat, 1] = inp.move_y
            sprint[seat] = inp.sprint
            shove[seat] = inp.shove
        report = self.game.step(controls)
        return StepOutcome(events=report.events, finished=report.finished)

    def snapshot(self) -> Snapshot:
        g = self.game
        return Snapshot(g.tick, g.wire.copy(), g.present.copy(), g.hill)

    def results(self) -> list[ResultRow]:
        g = self.game
        return [
            ResultRow(seat=seat, score=int(g.wire[seat, kr.SCORE]), team=int(g.team[seat]),
                      time_played_s=round(int(g.ticks_played[seat]) * self.rules.dt, 3),
                      stats={"captures": int(g.wire[seat, kr.CAPTURES]), "shoves": int(g.wire[seat, kr.SHOVES])})
            for seat in range(self.config.seats)
            if g.present[seat] or g.ticks_played[seat] > 0
        ]

    def map_info(self) -> dict[str, Any]:
        return {**self.MAP, **self.config.options, "hill_order": list(self.game.site_order)}
