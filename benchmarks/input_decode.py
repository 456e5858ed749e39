"""The input hot path: decoding one client ``input`` message, in CPU time per message.

    .venv/bin/python benchmarks/input_decode.py --messages 200000

Measures ``gameserver.protocol.decode_inputs_fast`` (what a connection runs on every input
frame) and ``decode_client`` (the full strict decoder) on the arena's v1 input rows: one
input per message (the usual case) and four (a client resending unacknowledged inputs).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time

from elysium.ws import play
from gameserver import protocol as p


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many passes")
    args = parser.parse_args()
    rng = random.Random(1)
    out: dict[str, float] = {}
    for rows in (1, 4):
        msgs = [play.encode_inputs([(k * rows + j, rng.uniform(-1, 1), rng.uniform(-1, 1),
                                     rng.uniform(-math.pi, math.pi), rng.random() < 0.2) for j in range(rows)])
                for k in range(1000)]
        for name, decode in (("fast", p.decode_inputs_fast), ("full", p.decode_client)):
            best = math.inf
            for _ in range(args.repeat):
                start = time.process_time()
                for i in range(args.messages):
                    decode(msgs[i % 1000])
                best = min(best, time.process_time() - start)
            out[f"{name}_{rows}_us"] = round(best / args.messages * 1e6, 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
