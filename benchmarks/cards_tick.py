"""Cards' tick cost in one process, without sockets: step, then diff and encode per view.

    .venv/bin/python benchmarks/cards_tick.py --rooms 200 --room-size 4 --turn-s 0.1

Tables of ``--room-size`` players whose turns all time out after ``--turn-s``
(0.1 s at 10 Hz: a card every tick, the busiest a table gets; 1 s: a card a second), played
to the end of their matches. Each table is played twice, tick for tick the same (same seed):
once with per-seat views (each distinct view's delta encoded once) and once with the engine's
single-view path (the full view encoded once and, as a broadcast would, shown to everyone).
Prints the tick cost per player-tick, the diff-and-encode cost per tick of each path, the
encodes per tick and the bytes a player receives per tick.
"""

from __future__ import annotations

import argparse
import json
import math
import time

from gameserver.room import MatchId, PlayerId, Room, RoomSpec, step_rooms


def cards_rooms(rooms: int, size: int, hz: int, turn_s: float, views: bool) -> list[Room]:
    built = []
    for r in range(rooms):
        spec = RoomSpec(match_id=MatchId(f"c{r}"), mode="cards", tick_hz=hz, seed=r, seats=size, min_players=size,
                        options={"turn_time_s": turn_s, "pause_s": turn_s, "score_limit": 1000})
        room = Room(spec, server_id="bench", now=0.0, wall_us=0, grace_s=5.0)
        room.per_seat_views = views
        for i in range(size):
            seat = room.admit(PlayerId(f"p{r}-{i}"), "p", object(), 0.0)
            room.keyframe(0, seat)
        built.append(room)
    return built


def run(args: argparse.Namespace) -> dict[str, object]:
    out: dict[str, object] = {"rooms": args.rooms, "room_size": args.room_size,
                              "turn_s": args.turn_s}
    for views in (True, False):
        best_tick = best_encode = math.inf
        encodes = sent = ticks = 0
        for _ in range(args.repeat):
            rooms = cards_rooms(args.rooms, args.room_size, args.tick_hz, args.turn_s, views)
            dt = 1.0 / args.tick_hz
            tick_cpu = encode_cpu = 0.0
            encodes = sent = ticks = 0
            k = 0
            while any(room.lifecycle.accepts_players for room in rooms) and k < args.ticks:
                k += 1
                started = time.process_time()
                stepped = step_rooms(rooms, k * dt, k)
                stepped_at = time.process_time()
                outs = [room.end_tick(o, outcome, k * dt, k) for room, (o, outcome) in zip(rooms, stepped)]
                done = time.process_time()
                tick_cpu += done - started
                encode_cpu += done - stepped_at
                for o in outs:
                    if o.views is not None:
                        encodes += len({id(data) for data, _ in o.views})
                        sent += sum(len(data) * len(group) for data, group in o.views)
                    elif o.delta is not None:
                        encodes += 1
                        sent += len(o.delta) * args.room_size
                ticks += 1
            best_tick = min(best_tick, tick_cpu)
            best_encode = min(best_encode, encode_cpu)
        room_ticks = args.rooms * ticks
        label = "views" if views else "broadcast"
        out[label] = {
            "ticks": ticks,
            "us_per_player_tick": round(1e6 * best_tick / (room_ticks * args.room_size), 3),
            "diff_encode_us_per_room_tick": round(1e6 * best_encode / room_ticks, 3),
            "encodes_per_room_tick": round(encodes / room_ticks, 3),
            "bytes_per_player_tick": round(sent / (room_ticks * args.room_size), 1),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--room-size", type=int, default=4)
    parser.add_argument("--ticks", type=int, default=100_000, help="at most (the matches end first)")
    parser.add_argument("--tick-hz", type=int, default=10)
    parser.add_argument("--turn-s", type=float, default=0.1, help="seconds before a turn times out")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()
