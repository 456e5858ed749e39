"""Tug of war: the small mode docs/modes.md builds step by step (kept here so tests run it).

Two teams pull a rope; each player's pull (0..3 a step) moves the rope towards their
side. The match ends when the rope's knot crosses a side's line (``rope``) or the time
runs out (``time``). Every player's score is their own pulls while their team won.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, NamedTuple

import numpy as np

from elysium.modes import (
    Column,
    Columns,
    FloatOption,
    GameMode,
    InputSchema,
    IntField,
    IntOption,
    ModeConfig,
    Option,
    ResultRow,
    ResultShape,
    Snapshot,
    StepOutcome,
    player_columns,
)


class Pull(NamedTuple):
    seq: int
    pull: int


class Tug(GameMode[Pull]):
    name: ClassVar[str] = "tug"
    input_schema: ClassVar[InputSchema] = InputSchema((IntField("pull", lo=0, hi=3),), row_type=Pull)
    columns: ClassVar[Columns] = Columns(
        player=player_columns(motion=(), status=(Column("pulled"), Column("team"))),
        object=(Column("id"), Column("knot_cm", 100, "m")),
    )
    options: ClassVar[tuple[Option, ...]] = (IntOption("rope_m", "how far the knot must go to win", lo=1, hi=100, default=5),
               FloatOption("time_limit_s", "seconds after which the match ends", lo=1.0, hi=600.0, default=60.0))
    result_shape: ClassVar[ResultShape] = ResultShape(reasons=("rope", "time"), stats=("pulled",), score="pulls")
    seat_range: ClassVar[tuple[int, int]] = (2, 16)
    team_range: ClassVar[tuple[int, int]] = (2, 2)
    tick_hz_range: ClassVar[tuple[int, int]] = (1, 30)

    def __init__(self, config: ModeConfig) -> None:
        super().__init__(config)
        self.rng = config.rng()  # the one random source: a slip now and then
        self.rope_cm = 100 * self.config.int_option("rope_m")
        self.limit = round(self.config.float_option("time_limit_s") * config.tick_hz)
        self.tick = 0
        self.knot_cm = 0  # > 0: towards team 0
        self.rows = np.zeros((config.seats, 2), dtype=np.int32)  # pulled, team
        self.present = np.zeros(config.seats, dtype=bool)
        self.played = np.zeros(config.seats, dtype=bool)
        self.objects = self._knot()

    def _knot(self) -> np.ndarray:
        return np.array([[self.tick + 1, self.knot_cm]], dtype=np.int32)

    def join(self, seat: int, team: int) -> None:
        self.present[seat] = self.played[seat] = True
        self.rows[seat] = (0, team)

    def leave(self, seat: int) -> None:
        self.present[seat] = False

    def step(self, inputs: Mapping[int, Pull]) -> StepOutcome:
        self.tick += 1
        out = StepOutcome()
        moved = 0
        for seat, row in inputs.items():
            pull = row.pull
            if pull and self.rng.random() < 0.05:
                out.events.append({"k": "slip", "who": seat})
                pull = 0
            self.rows[seat, 0] += pull
            moved += pull if self.rows[seat, 1] == 0 else -pull
        if moved:
            self.knot_cm += 10 * moved
            self.objects = self._knot()  # a new row (and id) only when the knot moved
        if abs(self.knot_cm) >= self.rope_cm:
            out.finished = "rope"
        elif self.tick >= self.limit:
            out.finished = "time"
        return out

    def snapshot(self) -> Snapshot:
        return Snapshot(self.tick, self.rows.copy(), self.present.copy(), self.objects)

    def results(self) -> list[ResultRow]:
        winner = 0 if self.knot_cm > 0 else 1 if self.knot_cm < 0 else -1
        return [ResultRow(seat=seat, team=int(self.rows[seat, 1]), time_played_s=self.tick / self.config.tick_hz,
                          score=int(self.rows[seat, 0]) if self.rows[seat, 1] == winner else 0,
                          stats={"pulled": int(self.rows[seat, 0])})
                for seat in np.flatnonzero(self.played).tolist()]
