"""Elysium and the Colyseus peer, back to back under the same load shape, in one table.

    .venv/bin/python benchmarks/side_by_side.py --room-size 10 --players 1000 1500
    .venv/bin/python benchmarks/side_by_side.py --install-peer     # only `npm ci` the peer

For each player count, Elysium's capacity run (``benchmarks/gameserver_capacity.py``: a fresh
``elysium gameserver`` on the server core, its load client on the other) and then the peer's
(``benchmarks/peers/colyseus``: ``node server.mjs`` on the server core, ``node load.mjs`` on
the other), with the same rooms, players, tick rate, ramp, settle and measured window. The
peer's npm packages are installed with ``npm ci`` when missing. "Held" means the same for
both: every client connected and none dropped, at least 19 deltas per second per player,
and under 5 % of late ticks (Elysium: ticks more than 10 ms behind the tick grid; the peer:
timer callbacks more than 10 ms late, see the peer's README).
Each run's JSON goes to stdout as it finishes, the table at the end (``--json-only`` skips it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from elysium import procs

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT / "benchmarks" / "peers" / "colyseus"
CLK = os.sysconf("SC_CLK_TCK")


class Missing(SystemExit):
    """A tool the peer needs is not installed (the message is one line)."""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def node() -> str:
    path = shutil.which("node")
    if path is None:
        raise Missing("side_by_side: node is not installed (the Colyseus peer needs Node.js 20 or later and npm)")
    return path


def ensure_peer() -> None:
    """Install the peer's npm packages from its package-lock.json (``npm ci``) unless present."""
    node()
    marker = PEER / "node_modules" / ".package-lock.json"
    lock = PEER / "package-lock.json"
    if marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise Missing("side_by_side: npm is not installed (the Colyseus peer's packages are installed with npm ci)")
    done = subprocess.run([npm, "ci", "--no-fund", "--no-audit", "--loglevel=error"], cwd=PEER,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise Missing(f"side_by_side: npm ci failed in {PEER.relative_to(ROOT)}: {tail[0]}")


def stats(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as answer:
        data: dict[str, float] = json.loads(answer.read())
    return data


def elysium_run(args: argparse.Namespace, players: int) -> dict[str, Any]:
    command = [sys.executable, str(ROOT / "benchmarks" / "gameserver_capacity.py"), "--room-size", str(args.room_size),
               "--players", str(players), "--measure-s", str(args.measure_s), "--ramp-per-s", str(args.ramp_per_s),
               "--settle-s", str(args.settle_s), "--server-core", args.server_core, "--client-core", args.client_core]
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout.strip():
        raise RuntimeError(f"Elysium's capacity run failed: {(out.stderr.strip().splitlines() or ['no output'])[-1]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["client_cpu_per_process"] = [result["client_cpu"]]
    return result


def peer_run(args: argparse.Namespace, players: int) -> dict[str, Any]:
    port = procs.free_port()
    server = subprocess.Popen(["taskset", "-c", args.server_core, node(), "server.mjs", "--port", str(port)],
                              cwd=PEER, stdout=subprocess.DEVNULL, stderr=open(args.server_log, "ab"))  # noqa: SIM115
    try:
        procs.wait_for_port("127.0.0.1", port, 30, server)
        time.sleep(0.5)
        rss0 = rss_kib(server.pid)
        client = subprocess.Popen(
            ["taskset", "-c", args.client_core, node(), "load.mjs", "--port", str(port), "--players", str(players),
             "--room-size", str(args.room_size), "--measure-s", str(args.measure_s), "--ramp-per-s", str(args.ramp_per_s),
             "--settle-s", str(args.settle_s), "--workers", str(args.peer_workers), "--sdk-every", str(args.sdk_every)],
            cwd=PEER, stdout=subprocess.PIPE, text=True)
        assert client.stdout is not None
        marks: dict[str, tuple[float, float, dict[str, float]]] = {}
        result: dict[str, Any] = {}
        for line in client.stdout:
            msg = json.loads(line)
            if "phase" in msg:
                marks[msg["phase"]] = (time.monotonic(), cpu_seconds(server.pid), stats(port))
            else:
                result = msg
        if client.wait() != 0 or not result:
            raise RuntimeError("the peer's load client failed (its messages are above)")
        rss1 = rss_kib(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    (t0, c0, s0), (t1, c1, s1) = marks["measure-start"], marks["measure-end"]
    dt = t1 - t0
    callbacks = s1["callbacks"] - s0["callbacks"]
    late = s1["lateCallbacks"] - s0["lateCallbacks"]
    late_frac = late / callbacks if callbacks else None
    rooms = -(-players // args.room_size)
    lat = result["latency_ms"]
    held = (result["dropped"] == 0 and result["connected"] == players and result["deltas_per_player_s"] >= 19
            and (late_frac is None or late_frac < 0.05))
    return {
        "server": "colyseus", "room_size": args.room_size, "players": players, "held": held,
        "p99_under_20ms": lat["p99"] is not None and lat["p99"] < 20,
        "deltas_per_player_s": result["deltas_per_player_s"],
        "server_cpu": round((c1 - c0) / dt, 3),
        "cpu_us_per_player_tick": round(1e6 * (c1 - c0) / (dt * players * 20), 2),
        "latency_ms": lat, "input_rtt_ms": result["input_rtt_ms"],
        "client_msgs_in_per_s": result["messages_in_per_s"], "client_bytes_in_per_s": result["bytes_in_per_s"],
        "bytes_per_player_s": round(result["bytes_in_per_s"] / players),
        "dropped_clients": result["dropped"], "client_cpu": result["client_cpu"],
        "client_cpu_per_process": result["client_cpu_per_process"], "load_client": result["client"],
        "rss_kib_per_player": round((rss1 - rss0) / players, 1),
        "late_ticks_pct": round(100 * late_frac, 2) if late_frac is not None else None,
        "tick_rate_hz": round((s1["ticks"] - s0["ticks"]) / dt / rooms, 2),
        "latency_samples": result["latency_samples"], "patches_without_ts": result["patches_without_ts"],
    }


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| server | rooms of | players | held | deltas/s per player | late ticks | CPU per player-tick "
            "| server CPU | bytes/s per player | p50 / p99 latency | input round trip p50 / p99 | memory per player "
            "| load client CPU (per process) |")
    lines = [head, "|---|---:|---:|---|---:|---:|---:|---:|---:|---|---|---:|---|"]
    for r in rows:
        lat, rtt = r["latency_ms"], r.get("input_rtt_ms") or {}
        late = r.get("late_ticks_pct")
        per = ", ".join(f"{100 * c:.0f} %" for c in r["client_cpu_per_process"])
        lines.append(
            f"| {r['server']} | {r['room_size']} | {r['players']:,} | {'yes' if r['held'] else 'no'} "
            f"| {r['deltas_per_player_s']} | {'—' if late is None else f'{late} %'} | {r['cpu_us_per_player_tick']} µs "
            f"| {100 * r['server_cpu']:.0f} % | {r['bytes_per_player_s']:,} | {lat['p50']} / {lat['p99']} ms "
            f"| {rtt.get('p50')} / {rtt.get('p99')} ms | {r['rss_kib_per_player']} KiB | {per} |")
    for server in dict.fromkeys(r["server"] for r in rows):
        for size in dict.fromkeys(r["room_size"] for r in rows):
            held = [r["players"] for r in rows if r["server"] == server and r["room_size"] == size and r["held"]]
            lines.append(f"\n{server}, rooms of {size}: most players held {max(held):,}" if held
                         else f"\n{server}, rooms of {size}: no count held")
    return "\n".join(lines)


NEAR_A_CORE = 0.85


def warn_if_client_bound(row: dict[str, Any]) -> None:
    """Say so when a load client process nears a core: it, not the server, may be what limits."""
    busiest = max(row["client_cpu_per_process"])
    if busiest >= NEAR_A_CORE:
        print(f"side_by_side: {row['server']}'s load client ran at {100 * busiest:.0f} % of a core with "
              f"{row['players']} players: give it more processes and cores (--peer-workers, --client-core)",
              file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--room-size", type=int, default=10)
    parser.add_argument("--players", type=int, nargs="+", default=[1000])
    parser.add_argument("--measure-s", type=float, default=10)
    parser.add_argument("--ramp-per-s", type=float, default=1000)
    parser.add_argument("--settle-s", type=float, default=3,
                        help="seconds from the last join to the measured window, for both servers")
    parser.add_argument("--server-core", default="0")
    parser.add_argument("--client-core", default="1", help="core list for both load clients, e.g. 1 or 1-3")
    parser.add_argument("--peer-workers", type=int, default=1, help="processes the peer's load client uses")
    parser.add_argument("--sdk-every", type=int, default=10,
                        help="one peer player in this many is a full @colyseus/sdk client (1: all of them)")
    parser.add_argument("--only", choices=("elysium", "colyseus"), help="run one server only")
    parser.add_argument("--server-log", default=os.devnull, help="where the peer server's output goes")
    parser.add_argument("--install-peer", action="store_true", help="install the peer's npm packages and stop")
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    ensure_peer()
    if args.install_peer:
        return
    rows: list[dict[str, Any]] = []
    for n in args.players:
        for name, run in (("elysium", elysium_run), ("colyseus", peer_run)):
            if args.only in (None, name):
                row = run(args, n)
                rows.append(row)
                print(json.dumps(row), flush=True)
                warn_if_client_bound(row)
    if not args.json_only:
        print(table(rows))


if __name__ == "__main__":
    main()
