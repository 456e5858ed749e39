"""King of the hill as a game mode: the engine's view of :mod:`gameserver.modes.koth_rules`.

Two teams, up to 16 players. Inputs are a move direction, ``sprint`` and ``shove`` (no aim,
nothing to fire); the replicated objects are the hill. docs/modes-koth.md describes the game
and what a client sees of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from gameserver.modes import koth_rules as kr
from gameserver.modes.base import GameMode, ModeConfig, PlayerResult, Snapshot, StepOutcome
from gameserver.protocol import Input

MAX_SEATS = 16


class KingOfTheHill(GameMode):
    name: ClassVar[str] = "koth"
    player_columns: ClassVar[tuple[str, ...]] = kr.PLAYER_COLUMNS
    motion_columns: ClassVar[int] = kr.MOTION
    object_columns: ClassVar[tuple[str, ...]] = kr.HILL_COLUMNS

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
        if not 1 <= config.seats <= MAX_SEATS:
            raise ValueError(f"king of the hill seats 1 to {MAX_SEATS} players")
        self.rules = kr.Rules(tick_hz=config.tick_hz, score_limit=config.score_limit,
                              time_limit_s=config.time_limit_s)
        self.game = kr.KingOfTheHill(config.seats, self.rules, np.random.default_rng(config.seed))

    def join(self, seat: int, team: int) -> None:
        # Always two teams: a room made without teams splits its seats between them.
        self.game.join(seat, team if self.config.teams == 2 else seat % 2)

    def leave(self, seat: int) -> None:
        self.game.leave(seat)

    def step(self, inputs: Mapping[int, Input]) -> StepOutcome:
        controls = kr.Controls.idle(self.config.seats)
        for seat, inp in inputs.items():
            controls.move[seat] = (inp.move_x, inp.move_y)
            controls.sprint[seat] = inp.aim != 0.0  # until the schema API: any aim sprints
            controls.shove[seat] = inp.fire
        report = self.game.step(controls)
        return StepOutcome(events=report.events, finished=report.finished)

    def snapshot(self) -> Snapshot:
        g = self.game
        return Snapshot(g.tick, g.wire.copy(), g.present.copy(), g.hill)

    def results(self) -> list[PlayerResult]:
        g = self.game
        return [
            PlayerResult(seat=seat, score=int(g.wire[seat, kr.SCORE]), kills=int(g.wire[seat, kr.SHOVES]), deaths=0,
                         time_played_s=round(int(g.ticks_played[seat]) * self.rules.dt, 3),
                         team=int(g.team[seat]))
            for seat in range(self.config.seats)
            if g.present[seat] or g.ticks_played[seat] > 0
        ]

    def map_info(self) -> dict[str, Any]:
        return {**self.MAP, "score_limit": self.config.score_limit, "time_limit_s": self.config.time_limit_s,
                "hill_move_s": self.rules.hill_move_s, "hill_order": list(self.game.site_order)}
