"""How long one room tick takes (simulate + diff + encode), without sockets, in CPU time.

    .venv/bin/python benchmarks/arena_tick.py [--seats 100] [--ticks 2000]
"""

from __future__ import annotations

import argparse
import math
import random
import time

from gameserver import protocol as p
from gameserver.room import MatchId, PlayerId, Room, RoomSpec


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seats", type=int, default=100)
    parser.add_argument("--ticks", type=int, default=2000)
    args = parser.parse_args()
    spec = RoomSpec(match_id=MatchId("bench"), mode="arena", seats=args.seats, tick_hz=20, seed=1,
                    min_players=1, score_limit=10**6, time_limit_s=3600)
    room = Room(spec, server_id="bench", now=0.0, wall_us=0, grace_s=20)
    seats = [room.admit(PlayerId(f"p{i}"), f"p{i}", object(), 0.0) for i in range(args.seats)]
    rng = random.Random(1)
    durations = []
    sizes = []
    for t in range(1, args.ticks + 1):
        for seat in seats:
            room.push_inputs(seat, (p.Input(t, rng.uniform(-1, 1), rng.uniform(-1, 1),
                                            rng.uniform(-math.pi, math.pi), rng.random() < 0.3),))
        start = time.thread_time()
        out = room.tick(t / 20, t * 50_000)
        durations.append(time.thread_time() - start)
        sizes.append(len(out.delta or b"") + len(out.events or b""))
    durations.sort()
    n = len(durations)
    print(f"seats={args.seats} ticks={n} mean={sum(durations) / n * 1e3:.3f} ms "
          f"p50={durations[n // 2] * 1e3:.3f} ms p99={durations[int(n * 0.99)] * 1e3:.3f} ms "
          f"bytes/tick mean={sum(sizes) / n:.0f}")


if __name__ == "__main__":
    main()
