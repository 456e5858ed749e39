"""The tick grid: when each room's next tick is due. Pure: the caller passes the clock in.

Rooms of one tick rate tick on one fixed grid; each room sits in one of ``PHASES`` slots of
the period (the slot with the fewest seats when it is created), so rooms do not all fall
due at the same instant. A deadline always advances by exactly one period (no drift); a
room that falls more than ``max_catch_up`` steps behind skips ahead, and the caller counts
the skipped steps (never silently).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

PHASES = 10
MAX_CATCH_UP_TICKS = 20

K = TypeVar("K", bound=Hashable)  # what names a room


@dataclass(slots=True)
class Clock:
    period: float
    deadline: float
    phase: int
    tick_hz: int
    seats: int
    late_ticks: int = 0  # ticks that started more than one period after their deadline (the admin API shows it)
    skipped: int = 0  # steps skipped because the process fell too far behind


class TickGrid(Generic[K]):
    def __init__(self, phases: int = PHASES, max_catch_up: int = MAX_CATCH_UP_TICKS) -> None:
        self.phases = phases
        self.max_catch_up = max_catch_up
        self.clocks: dict[K, Clock] = {}
        self.load: dict[tuple[int, int], int] = {}  # (tick rate, phase) -> seats

    def add(self, key: K, tick_hz: int, seats: int, now: float) -> Clock:
        period = 1.0 / tick_hz
        loads = [self.load.get((tick_hz, k), 0) for k in range(self.phases)]
        phase = loads.index(min(loads))
        self.load[(tick_hz, phase)] = loads[phase] + seats
        deadline = (int(now / period) + 1) * period + phase * period / self.phases
        clock = self.clocks[key] = Clock(period, deadline, phase, tick_hz, seats)
        return clock

    def remove(self, key: K) -> None:
        clock = self.clocks.pop(key, None)
        if clock is not None:
            self.load[(clock.tick_hz, clock.phase)] -= clock.seats

    def due(self, now: float) -> list[K]:
        return [key for key, clock in self.clocks.items() if clock.deadline <= now]

    def advance(self, keys: Iterable[K], now: float, steps_done: int) -> tuple[list[K], int]:
        """Move each ticked room to its next deadline.

        Returns the rooms still due at ``now`` (behind: tick them again) and how many steps
        rooms that fell too far behind skipped.
        """
        behind: list[K] = []
        skipped = 0
        for key in keys:
            clock = self.clocks.get(key)
            if clock is None:
                continue  # removed during the tick
            clock.deadline += clock.period
            if clock.deadline <= now:
                if steps_done >= self.max_catch_up:
                    missed = int((now - clock.deadline) / clock.period) + 1
                    clock.deadline += missed * clock.period
                    clock.skipped += missed
                    skipped += missed
                else:
                    behind.append(key)
        return behind, skipped

    def next_deadline(self, default: float) -> float:
        return min((clock.deadline for clock in self.clocks.values()), default=default)
