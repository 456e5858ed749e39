"""Tick cost per player of each game mode (simulate + diff + encode), without sockets, in CPU time.

    .venv/bin/python benchmarks/mode_tick.py                       # every mode below, rooms of 16
    .venv/bin/python benchmarks/mode_tick.py --modes koth --seats 8 --rooms 10

Each mode's rooms are built through the mode's own factory (``GameMode.factory``), as the
server builds them, and rooms due together are ticked in one ``tick_rooms`` call (one
``step_many`` per mode). Every seat sends one random input of the mode's schema each tick.
Modes are measured one after another in one run, so their figures compare.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections.abc import Callable
from typing import Any

from gameserver.modes import MODES
from gameserver.modes.koth import HillInput
from gameserver.protocol import Input
from gameserver.room import MatchId, PlayerId, Room, RoomSpec, tick_rooms

# A random input of each mode's schema: (rng, seq) -> row.
INPUTS: dict[str, Callable[[random.Random, int], Any]] = {
    "arena": lambda rng, t: Input(t, rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-math.pi, math.pi),
                                  rng.random() < 0.3),
    "koth": lambda rng, t: HillInput(t, rng.uniform(-1, 1), rng.uniform(-1, 1), rng.random() < 0.5,
                                     rng.random() < 0.1),
}
OPTIONS: dict[str, dict[str, Any]] = {  # limits no match reaches within the run
    "arena": {"score_limit": 1000, "time_limit_s": 3600.0},
    "koth": {"score_limit": 10000, "time_limit_s": 3600.0},
}


def measure(mode: str, seats: int, rooms_n: int, ticks: int) -> str:
    factory = MODES[mode].factory(seats * rooms_n)
    teams = 2 if mode == "koth" else 0
    rooms = []
    for r in range(rooms_n):
        spec = RoomSpec(match_id=MatchId(f"bench-{mode}-{r}"), mode=mode, seats=seats, tick_hz=20, seed=r,
                        teams=teams, min_players=1, options=OPTIONS[mode])
        rooms.append(Room(spec, server_id="bench", now=0.0, wall_us=0, grace_s=20,
                          mode_factory=lambda config: factory.create(config, 0)))
    seated = [(room, room.admit(PlayerId(f"p{i}"), f"p{i}", object(), 0.0)) for room in rooms for i in range(seats)]
    rng = random.Random(1)
    make = INPUTS[mode]
    durations: list[float] = []
    sizes: list[int] = []
    for t in range(1, ticks + 1):
        for room, seat in seated:
            room.push_inputs(seat, (make(rng, t),))
        start = time.thread_time()
        outs = tick_rooms(rooms, t / 20, t * 50_000)
        durations.append((time.thread_time() - start) / rooms_n)
        sizes.extend(len(o.delta or b"") + len(o.events or b"") for o in outs)
    durations.sort()
    n = len(durations)
    mean = sum(durations) / n
    return (f"{mode:6} seats={seats} rooms={rooms_n} ticks={n} per room tick: mean={mean * 1e3:.3f} ms "
            f"p99={durations[int(n * 0.99)] * 1e3:.3f} ms; per player tick {mean / seats * 1e6:.1f} us; "
            f"bytes per room tick {sum(sizes) / len(sizes):.0f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--modes", nargs="+", default=sorted(INPUTS), choices=sorted(INPUTS))
    parser.add_argument("--seats", type=int, default=16)
    parser.add_argument("--rooms", type=int, default=1)
    parser.add_argument("--ticks", type=int, default=1000)
    args = parser.parse_args()
    for mode in args.modes:
        print(measure(mode, args.seats, args.rooms, args.ticks), flush=True)


if __name__ == "__main__":
    main()
