"""What one simulated player costs the load tester: CPU per player-tick and memory per player.

For each player count and each source tree given (``--tree``, e.g. the current one and a
checkout of an older commit, interleaved run by run), starts a fresh game server pinned to
one core (``--server-core``), runs ``python -m loadtest`` from that tree on the other core
(``--tester-core``, one worker) against it, and prints one JSON line per run with the
tester's CPU per player-tick (µs), its memory per player (KiB), its loop lag and the
latency the players measured, all taken from the run's JSON report.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from elysium import procs, tokens

TICK_HZ = 20


def one_run(tree: Path, players: int, args: argparse.Namespace, redis_url: str, keys: Path) -> dict[str, Any]:
    port = procs.free_port()
    env = {**os.environ, "ELYSIUM_REDIS_URL": redis_url, "ELYSIUM_JOIN_PUBLIC_KEY_FILE": str(keys / "join.pub"),
           "ELYSIUM_SERVER_ID": "bench-1", "ELYSIUM_MAX_PLAYERS": "100000", "ELYSIUM_MAX_ROOMS": "10000",
           "ELYSIUM_LOG_LEVEL": "warning", "ELYSIUM_MAX_INPUTS_PER_S": "100", "ELYSIUM_TICK_HZ": str(TICK_HZ),
           "ELYSIUM_DRAIN_TIMEOUT_S": "1"}
    server = subprocess.Popen(["taskset", "-c", args.server_core, sys.executable, "-m", "elysium", "gameserver",
                               "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = Path(tempfile.mkdtemp(prefix="lt-cost-"))
    try:
        procs.wait_for_port("127.0.0.1", port, 30, server)
        tester_env = {**os.environ, "PYTHONPATH": str(tree)}
        cmd = ["taskset", "-c", args.tester_core, sys.executable, "-m", "loadtest", "--scenario", "capacity",
               "--url", f"ws://127.0.0.1:{port}/v1/play", "--server-id", "bench-1",
               "--join-key-file", str(keys / "join.key"), "--server-pid", str(server.pid),
               "--players", str(players), "--ramp-per-s", str(args.ramp_per_s), "--duration-s", str(args.duration_s),
               "--workers", "1", "--quiet", "--out", str(out), *args.extra]
        subprocess.run(cmd, env=tester_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600,
                       check=False, cwd=tree)
        doc = json.loads((out / "report.json").read_text())
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    tester = doc["tester"]
    per100 = tester["cpu_pct_per_100_players"]
    sc = doc["scenario"]
    ramp_s = sc["players"] / sc["ramp_per_s"]
    steady = [r for r in doc["timeline"] if ramp_s + 2 <= r["t"] <= ramp_s + sc["duration_s"]]
    cpu = [r["tester_cpu_pct"] for r in steady if r["tester_cpu_pct"] is not None]
    msgs = [r["msgs_in_per_s"] for r in steady if r["msgs_in_per_s"]]
    # Each player-tick is one delta in (and one input out): CPU per message in at full load.
    per_msg = (sum(cpu) / len(cpu) / 100) / (sum(msgs) / len(msgs)) * 1e6 if cpu and msgs else None
    return {
        "tree": str(tree), "players": players, "peak_connected": doc["players_peak_connected"],
        "tester_cpu_pct": tester["cpu_pct_steady"],
        "us_per_player_tick": None if per100 is None else round(per100 / 100 / 100 / TICK_HZ * 1e6, 1),
        "us_per_msg_in": None if per_msg is None else round(per_msg, 1),
        "msgs_in_per_s": round(sum(msgs) / len(msgs)) if msgs else None,
        "overloaded": tester.get("overloaded"),
        "kib_per_player": tester["memory_kb_per_player"],
        "tester_lag_p99_ms": doc["tester_lag_ms"]["p99"], "latency_p99_ms": doc["latency_ms"]["p99"],
        "input_rtt_p99_ms": doc["input_rtt_ms"]["p99"], "errors": doc["errors"],
        "server_cpu_pct": doc["server"]["cpu_pct_mean"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", action="append", required=True, help="a source tree to run the tester from")
    parser.add_argument("--players", type=int, nargs="+", default=[500, 1000])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--ramp-per-s", type=float, default=500)
    parser.add_argument("--duration-s", type=float, default=15)
    parser.add_argument("--server-core", default="0")
    parser.add_argument("--tester-core", default="1")
    parser.add_argument("extra", nargs="*", help="more loadtest options (after --)")
    args = parser.parse_args()
    redis = procs.start_redis()
    keys = Path(tempfile.mkdtemp(prefix="lt-cost-keys-"))
    tokens.generate_keypair(keys, "join")
    try:
        for _ in range(args.repeat):
            for n in args.players:
                for tree in args.tree:
                    print(json.dumps(one_run(Path(tree), n, args, redis.url, keys)), flush=True)
                    time.sleep(1)
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
