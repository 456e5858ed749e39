"""How simulated players move, aim and shoot: small seeded state machines, one per player.

Each tick a behaviour returns the input to send (``move_x, move_y, aim, fire``) or None to
send nothing that tick. The patterns are plausible rather than clever: players walk in a
direction for a while and turn, strafe around a point, hold a spot and sweep their aim, or
sit idle (an occasional input, as from a player who looks away). Pure: no I/O, and the
same seed gives the same inputs.

Thousands of behaviours live in one worker, so each draws from a :class:`SmallRng` (one
integer of state, a 64-bit linear congruential generator) rather than its own
``random.Random`` (2.5 KiB of Mersenne Twister state each).
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Mapping

Move = tuple[float, float, float, bool]

TAU = 2 * math.pi


def _wrap(angle: float) -> float:
    return (angle + math.pi) % TAU - math.pi


_MASK64 = (1 << 64) - 1
_TO_UNIT = 1.0 / (1 << 53)


class SmallRng:
    """A seeded 64-bit LCG (Knuth's MMIX constants), the top 53 bits as a float in [0, 1)."""

    __slots__ = ("state",)

    def __init__(self, seed: int) -> None:
        self.state = (seed * 0x9E3779B97F4A7C15 + 1) & _MASK64

    def random(self) -> float:
        self.state = s = (self.state * 6364136223846793005 + 1442695040888963407) & _MASK64
        return (s >> 11) * _TO_UNIT

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.random()

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))


class Behaviour:
    __slots__ = ("rng", "tick", "heading", "aim", "fire_left", "next_turn")
    name = "base"

    def __init__(self, rng: SmallRng) -> None:
        self.rng = rng
        self.tick = 0
        self.heading = rng.uniform(-math.pi, math.pi)
        self.aim = self.heading
        self.fire_left = 0
        self.next_turn = rng.randint(10, 60)

    def _fire(self, start_chance: float, burst: tuple[int, int]) -> bool:
        if self.fire_left > 0:
            self.fire_left -= 1
            return True
        if self.rng.random() < start_chance:
            self.fire_left = self.rng.randint(*burst)
        return False

    def step(self) -> Move | None:
        raise NotImplementedError


class Roamer(Behaviour):
    """Walks in a direction, turns now and then, aims roughly where it goes, fires in bursts."""

    __slots__ = ()
    name = "roamer"

    def step(self) -> Move | None:
        self.tick += 1
        rng = self.rng
        if self.tick >= self.next_turn:
            self.heading = _wrap(self.heading + rng.uniform(-2.0, 2.0))
            self.next_turn = self.tick + rng.randint(20, 80)
        self.aim = _wrap(self.aim + 0.2 * _wrap(self.heading - self.aim) + rng.uniform(-0.05, 0.05))
        return math.cos(self.heading), math.sin(self.heading), self.aim, self._fire(0.04, (4, 12))


class Strafer(Behaviour):
    """Keeps its aim on one direction and strafes left and right across it, firing often."""

    __slots__ = ()
    name = "strafer"

    def step(self) -> Move | None:
        self.tick += 1
        rng = self.rng
        if self.tick >= self.next_turn:
            self.heading = -self.heading if rng.random() < 0.7 else rng.uniform(-math.pi, math.pi)
            self.next_turn = self.tick + rng.randint(8, 30)
        side = self.aim + math.pi / 2 * (1 if self.heading >= 0 else -1)
        self.aim = _wrap(self.aim + rng.uniform(-0.03, 0.03))
        return 0.8 * math.cos(side), 0.8 * math.sin(side), self.aim, self._fire(0.1, (6, 20))


class Camper(Behaviour):
    """Holds a spot and sweeps its aim back and forth, firing when it has a line."""

    __slots__ = ()
    name = "camper"

    def step(self) -> Move | None:
        self.tick += 1
        self.aim = _wrap(self.heading + 0.8 * math.sin(self.tick / 15.0))
        return 0.0, 0.0, self.aim, self._fire(0.03, (3, 8))


class Idle(Behaviour):
    """Connected but away from the keys: one idle input a second, never fires."""

    __slots__ = ()
    name = "idle"

    def step(self) -> Move | None:
        self.tick += 1
        if self.tick % 20:
            return None
        return 0.0, 0.0, self.aim, False


class Busy(Roamer):
    """A roamer that also burns ``BUSY_STEP_S`` of CPU every tick: overloads its own worker on
    purpose, to check that a run says when the load tester, not the server, was the limit."""

    __slots__ = ()
    name = "busy"

    def step(self) -> Move | None:
        until = time.perf_counter() + BUSY_STEP_S
        while time.perf_counter() < until:
            pass
        return super().step()


BUSY_STEP_S = 0.01

BEHAVIOURS: dict[str, type[Behaviour]] = {cls.name: cls for cls in (Roamer, Strafer, Camper, Idle, Busy)}


class Mix:
    """Deterministically assigns behaviours to player indices by weight."""

    def __init__(self, weights: Mapping[str, float], seed: int) -> None:
        self.names = [n for n, w in sorted(weights.items()) if w > 0]
        total = sum(weights[n] for n in self.names)
        acc, self.cumulative = 0.0, []
        for name in self.names:
            acc += weights[name] / total
            self.cumulative.append(acc)
        self.seed = seed

    def pick(self, index: int) -> tuple[str, SmallRng]:
        rng = SmallRng(self.seed * 1_000_003 + index)
        at = min(bisect.bisect_left(self.cumulative, rng.random()), len(self.names) - 1)
        return self.names[at], rng

    def make(self, index: int) -> Behaviour:
        name, rng = self.pick(index)
        return BEHAVIOURS[name](rng)
