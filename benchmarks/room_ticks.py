"""The room engine's tick cost in one process, without sockets: step, diff and encode.

    .venv/bin/python benchmarks/room_ticks.py arena --rooms 100 --room-size 10 --ticks 400

``arena``: rooms of ``--room-size`` players, each sending a new input every tick (moving,
aiming, firing now and then), ticked together as the scheduler does (``tick_rooms``).
Prints the CPU time per player-tick of the whole tick (inputs queued, step, diff, encode),
best of ``--repeat`` runs. Nothing is sent: this measures the engine, not the network.
"""

from __future__ import annotations

import argparse
import json
import math
import time

from gameserver import protocol as p
from gameserver.room import MatchId, PlayerId, Room, RoomSpec, Seat, tick_rooms


def arena_rooms(rooms: int, size: int, hz: int) -> tuple[list[Room], list[list[Seat]]]:
    built, seats = [], []
    for r in range(rooms):
        spec = RoomSpec(match_id=MatchId(f"a{r}"), mode="arena", tick_hz=hz, seed=r, seats=size, min_players=size,
                        score_limit=1000, time_limit_s=3600.0)
        room = Room(spec, server_id="bench", now=0.0, wall_us=0, grace_s=5.0)
        seats.append([room.admit(PlayerId(f"p{r}-{i}"), "p", object(), 0.0) for i in range(size)])
        built.append(room)
    return built, seats


def run_arena(args: argparse.Namespace) -> dict[str, object]:
    best = math.inf
    for _ in range(args.repeat):
        rooms, seats = arena_rooms(args.rooms, args.room_size, args.tick_hz)
        dt = 1.0 / args.tick_hz
        tick_rooms(rooms, dt, 1)  # starts them
        cpu = 0.0
        for k in range(2, args.ticks + 2):
            for r, room_seats in enumerate(seats):
                for i, seat in enumerate(room_seats):
                    angle = (k * 0.05 + i + r) % 6.28
                    room = rooms[r]
                    room.push_inputs(seat, (p.Input(k, math.cos(angle), math.sin(angle), angle - 3.14,
                                                    (k + i) % 5 == 0),))
            started = time.process_time()
            tick_rooms(rooms, k * dt, k)
            cpu += time.process_time() - started
        best = min(best, cpu)
    players = args.rooms * args.room_size
    return {"mode": "arena", "rooms": args.rooms, "room_size": args.room_size, "ticks": args.ticks,
            "us_per_player_tick": round(1e6 * best / (players * args.ticks), 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("arena",))
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--room-size", type=int, default=10)
    parser.add_argument("--ticks", type=int, default=400)
    parser.add_argument("--tick-hz", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(run_arena(args)), flush=True)


if __name__ == "__main__":
    main()
