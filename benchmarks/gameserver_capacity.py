"""Game-server capacity: how many players one process holds at 20 Hz.

    .venv/bin/python benchmarks/gameserver_capacity.py --room-size 10 --players 500 1000 1500

The server runs pinned to core 0 and the load client (benchmarks/gameserver_load.py) to core
1. Every player sends an input per tick; rooms tick at 20 Hz. For each player count a fresh
server is started, players ramp up, settle, and are measured. "Held" means every client
connected and none dropped, each receiving at least 19 deltas per second, and under 5 % of
ticks more than 10 ms late (the last only where the server measures lateness).
``--server baseline`` runs the same load against a plain websockets + uvloop server
(benchmarks/baseline_ws_server.py) for a ratio measured on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from elysium import procs, tokens

ROOT = Path(__file__).resolve().parent.parent
CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        name, _, value = line.rpartition(" ")
        out[name] = float(value)
    return out


def one_run(args: argparse.Namespace, players: int, redis_url: str, keys: Path) -> dict[str, object]:
    port = procs.free_port()
    env = {**os.environ, "ELYSIUM_REDIS_URL": redis_url, "ELYSIUM_JOIN_PUBLIC_KEY_FILE": str(keys / "join.pub"),
           "ELYSIUM_SERVER_ID": "bench-1", "ELYSIUM_MAX_PLAYERS": "100000", "ELYSIUM_MAX_ROOMS": "10000",
           "ELYSIUM_LOG_LEVEL": "warning", "ELYSIUM_MAX_INPUTS_PER_S": "100"}
    if args.server == "elysium":
        command = [sys.executable, "-m", "elysium", "gameserver", "--port", str(port)]
    else:
        command = [sys.executable, str(ROOT / "benchmarks" / "baseline_ws_server.py"), "--port", str(port),
                   "--room-size", str(args.room_size)]
    server = subprocess.Popen(["taskset", "-c", args.server_core, *command], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(args.server_log, "ab"))  # noqa: SIM115
    try:
        procs.wait_for_port("127.0.0.1", port, 30, server)
        time.sleep(0.5)
        rss0 = rss_kib(server.pid)
        client = subprocess.Popen(
            ["taskset", "-c", args.client_core, sys.executable, str(ROOT / "benchmarks" / "gameserver_load.py"),
             "--port", str(port), "--players", str(players), "--room-size", str(args.room_size),
             "--key-file", str(keys / "join.key"), "--measure-s", str(args.measure_s),
             "--ramp-per-s", str(args.ramp_per_s), "--settle-s", str(args.settle_s)],
            stdout=subprocess.PIPE, text=True, env=env)
        assert client.stdout is not None
        marks: dict[str, tuple[float, float, dict[str, float]]] = {}
        result: dict[str, Any] = {}  # the load client's JSON summary
        for line in client.stdout:
            msg = json.loads(line)
            if "phase" in msg:
                metrics = scrape(port) if args.server == "elysium" else {}
                marks[msg["phase"]] = (time.monotonic(), cpu_seconds(server.pid), metrics)
            else:
                result = msg
        client.wait()
        rss1 = rss_kib(server.pid)
        (t0, c0, m0), (t1, c1, m1) = marks["measure-start"], marks["measure-end"]
        dt = t1 - t0

        def d(name: str) -> float:
            return m1.get(name, 0.0) - m0.get(name, 0.0)

        rooms = -(-players // args.room_size)
        ticks = d("elysium_gameserver_ticks_total")
        late_ok = d('elysium_gameserver_tick_lateness_seconds_bucket{le="0.01"}')
        late_all = d("elysium_gameserver_tick_lateness_seconds_count")
        late_frac = 1 - late_ok / late_all if late_all else None
        lat = result["latency_ms"]
        # Held: every client connected, none dropped, each receiving at least 19 deltas per
        # second, and (where the server measures it) under 5 % of ticks more than 10 ms late.
        held = (result["dropped"] == 0 and result["connected"] == players and result["deltas_per_player_s"] >= 19
                and (late_frac is None or late_frac < 0.05))
        out: dict[str, object] = {
            "server": args.server,
            "room_size": args.room_size,
            "players": players,
            "held": held,
            "p99_under_20ms": lat["p99"] < 20,
            "deltas_per_player_s": result["deltas_per_player_s"],
            "server_cpu": round((c1 - c0) / dt, 3),
            "cpu_us_per_player_tick": round(1e6 * (c1 - c0) / (dt * players * 20), 2),
            "latency_ms": lat,
            "input_rtt_ms": result.get("input_rtt_ms"),  # an input's send to its ack, sampled players
            "client_msgs_in_per_s": result["messages_in_per_s"],
            "client_bytes_in_per_s": result["bytes_in_per_s"],
            "bytes_per_player_s": round(result["bytes_in_per_s"] / players),
            "dropped_clients": result["dropped"],
            "client_cpu": result["client_cpu"],
            "rss_kib_per_player": round((rss1 - rss0) / players, 1),
        }
        if args.server == "elysium":
            out.update({
                "late_ticks_pct": round(100 * late_frac, 2) if late_frac is not None else None,
                "tick_rate_hz": round(ticks / dt / rooms, 2),
                "batch_ms_mean": round(1000 * d("elysium_gameserver_tick_duration_seconds_sum")
                                       / max(1.0, d("elysium_gameserver_tick_duration_seconds_count")), 3),
                "frames_out_per_s": round(d("elysium_gameserver_frames_out_total") / dt),
                "bytes_out_per_s": round(d("elysium_gameserver_sent_bytes_total") / dt),
                "inputs_per_s": round(d("elysium_gameserver_inputs_total") / dt),
                "frames_dropped": d("elysium_gameserver_frames_dropped_total"),
            })
        return out
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--room-size", type=int, default=10)
    parser.add_argument("--players", type=int, nargs="+", default=[500, 1000, 1500])
    parser.add_argument("--measure-s", type=float, default=10)
    parser.add_argument("--ramp-per-s", type=float, default=1000)
    parser.add_argument("--settle-s", type=float, default=3, help="seconds between the last join and the window")
    parser.add_argument("--server", choices=("elysium", "baseline"), default="elysium",
                        help="elysium: the game server; baseline: benchmarks/baseline_ws_server.py")
    parser.add_argument("--server-core", default="0")
    parser.add_argument("--client-core", default="1")
    parser.add_argument("--server-log", default=os.devnull, help="where the server's log lines go")
    args = parser.parse_args()
    redis = procs.start_redis()
    keys = Path(tempfile.mkdtemp(prefix="bench-keys-"))
    tokens.generate_keypair(keys, "join")
    try:
        for n in args.players:
            print(json.dumps(one_run(args, n, redis.url, keys)), flush=True)
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
