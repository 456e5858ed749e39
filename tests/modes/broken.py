"""Modes that are wrong on purpose: for the registry's start-up errors and the engine's isolation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from elysium.modes import BoolOption, GameMode, InputSchema, IntOption, ModeConfig, Option, StepOutcome
from tests.modes.tug import Pull, Tug


class NotAMode:
    name = "not-a-mode"


class BadColumns(Tug):
    name: ClassVar[str] = "bad-columns"
    input_schema: ClassVar[InputSchema] = Tug.input_schema


BadColumns.columns = "pulled,team"  # type: ignore[assignment]


class FutureApi(Tug):
    name: ClassVar[str] = "future-api"
    api_version: ClassVar[int] = 99


class BadOption(Tug):
    name: ClassVar[str] = "bad-option"
    options: ClassVar[tuple[Option, ...]] = (IntOption("rounds", lo=5, hi=1, default=3),)


class Fragile(Tug):
    """Tug whose step raises once the rope's option says so: a deliberate bug in one room."""

    name: ClassVar[str] = "fragile"
    options: ClassVar[tuple[Option, ...]] = (*Tug.options, IntOption("explode_at", "tick at which step raises (0: never)", lo=0, hi=10_000),
               BoolOption("explode_in_join"), BoolOption("explode_in_init"))

    def __init__(self, config: ModeConfig) -> None:
        super().__init__(config)
        if self.config.bool_option("explode_in_init"):
            raise RuntimeError("__init__ blew up on purpose")

    def join(self, seat: int, team: int) -> None:
        if self.config.bool_option("explode_in_join"):
            raise RuntimeError("join blew up on purpose")
        super().join(seat, team)

    def step(self, inputs: Mapping[int, Pull]) -> StepOutcome:
        if self.tick + 1 == self.config.int_option("explode_at"):
            raise RuntimeError("step blew up on purpose")
        return super().step(inputs)


class FragileBatch(Fragile):
    """Fragile with a vectorised step_many that raises for the whole batch when one room fails."""

    name: ClassVar[str] = "fragile-batch"
    batches: ClassVar[list[int]] = []

    @classmethod
    def step_many(cls, modes: Sequence[GameMode[Pull]], inputs: Sequence[Mapping[int, Pull]]) -> list[StepOutcome]:
        cls.batches.append(len(modes))
        for mode in modes:  # check first, then change (the API's rule for step_many)
            assert isinstance(mode, Fragile)
            if mode.tick + 1 == mode.config.int_option("explode_at"):
                raise RuntimeError("step_many blew up on purpose")
        return [mode.step(i) for mode, i in zip(modes, inputs)]


