"""How long room ticks take (simulate + diff + encode), without sockets, in CPU time.

    .venv/bin/python benchmarks/arena_tick.py --seats 100 --rooms 1
    .venv/bin/python benchmarks/arena_tick.py --seats 10 --rooms 15   # rooms due together, one batch

Rooms due at the same moment share one ArenaWorld and are stepped in one vectorised pass,
as the server's scheduler does; the figure reported is CPU time per room tick.
"""

from __future__ import annotations

import argparse
import math
import random
import time

from gameserver import protocol as p
from gameserver.modes.arena import Arena, ArenaWorld
from gameserver.room import MatchId, PlayerId, Room, RoomSpec, tick_rooms


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seats", type=int, default=100)
    parser.add_argument("--rooms", type=int, default=1)
    parser.add_argument("--ticks", type=int, default=1000)
    args = parser.parse_args()
    world = ArenaWorld(args.seats * args.rooms, 20)
    rooms = []
    for r in range(args.rooms):
        spec = RoomSpec(match_id=MatchId(f"bench-{r}"), mode="arena", seats=args.seats, tick_hz=20, seed=r,
                        min_players=1, options={"score_limit": 1000, "time_limit_s": 3600.0})
        rooms.append(Room(spec, server_id="bench", now=0.0, wall_us=0, grace_s=20,
                          mode_factory=lambda config: Arena(config, world)))
    seats = [(room, room.admit(PlayerId(f"p{i}"), f"p{i}", object(), 0.0)) for room in rooms
             for i in range(args.seats)]
    rng = random.Random(1)
    durations: list[float] = []
    sizes: list[int] = []
    for t in range(1, args.ticks + 1):
        for room, seat in seats:
            room.push_inputs(seat, (p.Input(t, rng.uniform(-1, 1), rng.uniform(-1, 1),
                                            rng.uniform(-math.pi, math.pi), rng.random() < 0.3),))
        start = time.thread_time()
        outs = tick_rooms(rooms, t / 20, t * 50_000)
        durations.append((time.thread_time() - start) / len(rooms))
        sizes.extend(len(o.delta or b"") + len(o.events or b"") for o in outs)
    durations.sort()
    n = len(durations)
    print(f"seats={args.seats} rooms={args.rooms} ticks={n} per room tick: mean={sum(durations) / n * 1e3:.3f} ms "
          f"p50={durations[n // 2] * 1e3:.3f} ms p99={durations[int(n * 0.99)] * 1e3:.3f} ms; "
          f"per player tick {sum(durations) / n / args.seats * 1e6:.1f} us; bytes per room tick {sum(sizes) / len(sizes):.0f}")


if __name__ == "__main__":
    main()
