"""The tick grid without an event loop: fixed steps, no drift, spread phases, skip-ahead."""

from __future__ import annotations

import math

from gameserver.schedule import PHASES, TickGrid


def test_deadlines_advance_by_exact_periods_without_drift() -> None:
    grid: TickGrid[str] = TickGrid()
    clock = grid.add("a", 20, 10, now=123.456)
    first = clock.deadline
    for k in range(1, 72_001):  # an hour at 20 Hz, each tick started a little late
        due = grid.due(clock.deadline + 0.004)
        assert due == ["a"]
        grid.advance(due, clock.deadline + 0.004, steps_done=1)
    assert math.isclose(clock.deadline, first + 72_000 * 0.05, abs_tol=1e-6)


def test_rooms_spread_over_the_phases_of_the_period() -> None:
    grid: TickGrid[int | str] = TickGrid()
    clocks = [grid.add(i, 20, 10, now=0.0) for i in range(PHASES * 2)]
    phases = sorted(c.phase for c in clocks)
    assert phases == sorted(list(range(PHASES)) * 2)
    offsets = {round((c.deadline % 0.05) * 1000, 3) for c in clocks}
    assert len(offsets) == PHASES  # PHASES distinct instants within each 50 ms
    grid.remove(0)
    assert grid.add("new", 20, 10, now=0.0).phase == clocks[0].phase  # the freed slot is least loaded


def test_a_room_behind_catches_up_then_skips_ahead_and_says_so() -> None:
    grid: TickGrid[str] = TickGrid(max_catch_up=3)
    clock = grid.add("a", 20, 10, now=0.0)
    late = clock.deadline + 1.0  # the process stalled for a second: 20 steps behind
    due, skipped, steps = grid.due(late), 0, 0
    while due:
        steps += 1
        due, skipped = grid.advance(due, late, steps)
    assert steps == 3  # three catch-up steps were run
    assert skipped == 18  # the rest were skipped and counted
    assert clock.deadline > late
    assert math.isclose((clock.deadline - 0.05) / 0.05, round((clock.deadline - 0.05) / 0.05))  # still on the grid
