"""The conformance suite on the shipped modes, and on modes that break each rule (it must fail)."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pytest

from elysium.modes import GameMode, ResultRow, Snapshot, StepOutcome
from elysium.testing.modes import CHECKS, ConformanceError, Scenario, run_check
from gameserver.modes.arena import Arena
from tests.modes.tug import Pull, Tug


def hunt(snap: Snapshot, seat: int, rng: random.Random) -> list[Any]:
    """Arena: run at the nearest other player and shoot."""
    me = snap.players[seat]
    others = [row for i, row in enumerate(snap.players) if snap.present[i] and i != seat and row[4]]
    if not others:
        return [0.0, 0.0, 0.0, False]
    target = min(others, key=lambda row: (row[0] - me[0]) ** 2 + (row[1] - me[1]) ** 2)
    dx, dy = float(target[0] - me[0]), float(target[1] - me[1])
    d = math.hypot(dx, dy) or 1.0
    return [dx / d, dy / d, math.atan2(dy, dx), True]


def skirmish(snap: Snapshot, seat: int, rng: random.Random) -> list[Any]:
    """Mostly hunting, sometimes random: hits, deaths and respawns in every check's play."""
    if rng.random() < 0.3:
        return [rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-math.pi, math.pi), rng.random() < 0.5]
    return hunt(snap, seat, rng)


ARENA_SCENARIOS = {"": Scenario(policy=skirmish), "score": Scenario(options={"score_limit": 1, "time_limit_s": 600.0}, seats=2, policy=hunt),
                   "time": Scenario(options={"time_limit_s": 1.0})}


def north(snap: Snapshot, seat: int, rng: random.Random) -> list[Any]:
    return [3 if snap.players[seat, 1] == 0 else 0]


TUG_SCENARIOS = {"rope": Scenario(options={"rope_m": 2}, policy=north), "time": Scenario(options={"time_limit_s": 1.0})}


@pytest.mark.parametrize("check", CHECKS)
def test_the_arena_conforms(check: str) -> None:
    run_check(check, Arena, scenarios=ARENA_SCENARIOS)


def test_the_arena_play_of_the_checks_has_hits_and_deaths() -> None:
    from elysium.testing.modes import _configure, _play

    config = _configure(Arena, 1, ARENA_SCENARIOS[""])
    driver = _play(Arena, config, 1, 1200, skirmish)
    kinds = {e["k"] for entry in driver.log if len(entry) == 6 for e in entry[1]}
    assert {"hit", "death"} <= kinds


@pytest.mark.parametrize("check", CHECKS)
def test_the_example_mode_conforms(check: str) -> None:
    run_check(check, Tug, scenarios=TUG_SCENARIOS)


# --- modes that break the rules -------------------------------------------------------------------


class Clocky(Tug):
    """Uses a random source other than the one handed in."""

    name: ClassVar[str] = "clocky"
    chaos = random.Random()

    def step(self, inputs: Mapping[int, Pull]) -> StepOutcome:
        self.knot_cm += self.chaos.randint(-1, 1)
        self.objects = self._knot()
        return super().step(inputs)


class Timed(Tug):
    """Reads the clock in its step."""

    name: ClassVar[str] = "timed"

    def step(self, inputs: Mapping[int, Pull]) -> StepOutcome:
        self.started = getattr(self, "started", None) or time.monotonic()
        return super().step(inputs)


class Dicey(Tug):
    """Draws from the random module's shared generator."""

    name: ClassVar[str] = "dicey"

    def step(self, inputs: Mapping[int, Pull]) -> StepOutcome:
        if random.random() < 0.01:
            self.knot_cm += 1
        return super().step(inputs)


class Mutating(Tug):
    """Changes an object's row in place (a delta would never tell clients)."""

    name: ClassVar[str] = "mutating"

    def step(self, inputs: Mapping[int, Pull]) -> StepOutcome:
        out = super().step(inputs)
        self.objects = np.array([[1, self.knot_cm]], dtype=np.int32)
        return out


class Forgetful(Tug):
    """Leaves out the result row of seat 0."""

    name: ClassVar[str] = "forgetful"

    def results(self) -> list[ResultRow]:
        return [r for r in super().results() if r.seat != 0]


class Batchy(Tug):
    """A step_many that is not the same as stepping alone (it skips the last room)."""

    name: ClassVar[str] = "batchy"

    @classmethod
    def step_many(cls, modes: Sequence[GameMode[Pull]], inputs: Sequence[Mapping[int, Pull]]) -> list[StepOutcome]:
        return [m.step(i) if k < len(modes) - 1 else StepOutcome() for k, (m, i) in enumerate(zip(modes, inputs))]


class Picky(Tug):
    """Raises on a pull at its high bound."""

    name: ClassVar[str] = "picky"

    def step(self, inputs: Mapping[int, Pull]) -> StepOutcome:
        if any(row.pull == 3 for row in inputs.values()):
            raise IndexError("pull 3 is off the end of a table")
        return super().step(inputs)


class Sticky(Tug):
    """Keeps a seat present after it left."""

    name: ClassVar[str] = "sticky"

    def leave(self, seat: int) -> None:
        pass


class Unreachable(Tug):
    """Declares a finish reason its step never gives."""

    name: ClassVar[str] = "unreachable"
    result_shape = Tug.result_shape.__class__(reasons=("rope", "time", "surrender"), stats=("pulled",))


@pytest.mark.parametrize(("mode", "check", "words"), [
    (Clocky, "determinism", "differs between two runs"),
    (Timed, "purity", "called time.monotonic"),
    (Dicey, "purity", "called random.random"),
    (Mutating, "wire", "changed while alive"),
    (Forgetful, "results", "have no result row"),
    (Batchy, "step_many", "differ from stepping alone"),
    (Picky, "input_bounds", "pull at its high bound"),
    (Sticky, "joins_and_leaves", "present"),
    (Sticky, "wire", "present does not match"),
    (Unreachable, "results", "'surrender' was not reached"),
])
def test_the_suite_fails_a_mode_that_breaks_a_rule(mode: type[Tug], check: str, words: str) -> None:
    with pytest.raises(ConformanceError) as err:
        run_check(check, mode, scenarios=TUG_SCENARIOS)
    assert str(err.value).startswith(f"{check}: ") and words in str(err.value), str(err.value)
