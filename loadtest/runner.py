"""The run: start the workers, hand them the start time, merge what they report, watch the server.

The runner owns no simulated player. Once a second it folds the workers' snapshots into
the run's totals and a time-series row, samples the server's CPU, and shows progress.
Every wait has a deadline; workers that outlive theirs are terminated by process id.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from hdrh.histogram import HdrHistogram

from loadtest import worker
from loadtest.errors import TargetError
from loadtest.measure import Aggregate, new_histogram
from loadtest.progress import Progress
from loadtest.scenario import Scenario
from loadtest.serverstats import gameserver_view, process_cpu_s, process_rss_bytes, scrape

READY_TIMEOUT_S = 60.0
ROW_EVERY_S = 1.0
SETTLE_TIMEOUT_S = 5.0


@dataclass
class Target:
    url: str  # game server websocket URL
    server_id: str
    join_key_file: str
    metrics_url: str | None = None
    server_pid: int | None = None
    started_stack: bool = False
    commerce_url: str | None = None
    matchmaker_url: str | None = None
    spectator_url: str | None = None


@dataclass
class RunResult:
    scenario: Scenario
    target: Target
    workers: int
    run_id: str
    started_at: float
    ended_at: float
    aggregate: Aggregate
    rows: list[dict[str, Any]]
    server_before: dict[str, float] | None
    server_after: dict[str, float] | None
    tester_baseline_rss: int
    tester_peak_rss: int
    tester_cpu_s: float
    server_cpu_s: float | None
    server_peak_rss: int | None
    peak_connected: int
    interrupted: bool = False
    failures: list[str] = field(default_factory=list)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _pct(h: HdrHistogram, q: float) -> float | None:
    return round(h.get_value_at_percentile(q) / 1000, 3) if h.get_total_count() else None


def run(scenario: Scenario, target: Target, *, workers: int, progress: Progress) -> RunResult:
    run_id = uuid.uuid4().hex[:8]
    config: dict[str, Any] = {
        "flow": scenario.flow, "url": target.url, "server_id": target.server_id,
        "join_key_file": target.join_key_file, "run_id": run_id, "players": scenario.players,
        "room_size": scenario.room_size, "ramp_per_s": scenario.ramp_per_s, "duration_s": scenario.duration_s,
        "tick_hz": scenario.tick_hz, "seed": scenario.seed, "behaviour": scenario.behaviour,
        "connect_timeout_s": scenario.connect_timeout_s, "join_timeout_s": scenario.join_timeout_s,
        "ping_interval_s": scenario.ping_interval_s, "retries": scenario.retries,
        "commerce_url": target.commerce_url, "matchmaker_url": target.matchmaker_url,
        "spectator_url": target.spectator_url, "spectators_per_match": scenario.spectators_per_match,
    }
    workers = max(1, min(workers, scenario.players))
    ctx = multiprocessing.get_context("spawn")
    procs: list[multiprocessing.process.BaseProcess] = []
    conns: dict[Connection, int] = {}
    failures: list[str] = []
    agg = Aggregate()
    rows: list[dict[str, Any]] = []
    interrupted = False
    try:
        for i in range(workers):
            parent, child = ctx.Pipe(duplex=True)
            proc: multiprocessing.process.BaseProcess = ctx.Process(target=worker.main, args=(i, workers, child, config), name=f"loadtest-worker-{i}",
                               daemon=True)
            proc.start()
            child.close()
            procs.append(proc)
            conns[parent] = i
        baseline_rss = 0
        pids: dict[int, int] = {}
        deadline = time.monotonic() + READY_TIMEOUT_S
        waiting = set(conns)
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TargetError(f"{len(waiting)} worker(s) did not start within {READY_TIMEOUT_S:g} s")
            for conn in _ready(waiting, left):
                try:
                    kind, info = _recv(conn)
                except EOFError:
                    raise TargetError(f"worker {conns[conn]} exited while starting") from None
                if kind == "failed":
                    raise TargetError(f"worker {conns[conn]} failed to start: {info['error']}")
                baseline_rss += info["rss_bytes"]
                pids[conns[conn]] = info["pid"]
                waiting.discard(conn)

        server_before = gameserver_view(scrape(target.metrics_url)) if target.metrics_url else None
        server_cpu0 = process_cpu_s(target.server_pid) if target.server_pid else None
        t0 = time.time() + 0.5
        for conn in conns:
            conn.send(("go", t0))
        progress.start(scenario, workers, target.url)

        planned_end = t0 + scenario.ramp_s + scenario.duration_s
        hard_end = planned_end + worker.GRACE_S + 20.0
        live = dict(conns)
        interval = {name: new_histogram() for name in ("latency", "input_rtt", "tester_lag")}
        next_row = t0 + ROW_EVERY_S
        prev: dict[str, float] = {"t": t0, "msgs_in": 0, "bytes_in": 0, "inputs": 0, "tester_cpu": 0.0}
        prev_server_cpu = server_cpu0
        cpu_by_worker: dict[int, float] = {}
        cpu_start: dict[int, float] = {}
        peak_rss = peak_connected = 0
        server_peak_rss: int | None = None
        while live:
            try:
                ready = _ready(live, max(0.0, min(next_row, hard_end) - time.time()))
                for conn in ready:
                    w = live[conn]
                    try:
                        kind, snap = _recv(conn)
                    except (EOFError, OSError):
                        failures.append(f"worker {w} exited before its last report")
                        del live[conn]
                        continue
                    if kind == "failed":
                        failures.append(f"worker {w} failed: {snap['error']}")
                        continue
                    decoded = agg.add(w, snap)
                    for name, h in interval.items():
                        if name in decoded:
                            h.add(decoded[name])
                    cpu_start.setdefault(w, snap["cpu_s"])
                    cpu_by_worker[w] = snap["cpu_s"]
                    if kind == "done":
                        del live[conn]
                now = time.time()
                if now >= next_row:
                    counts = agg.counts()
                    connected = agg.gauge("connected")
                    peak_connected = max(peak_connected, connected)
                    rss = sum(int(s["rss_bytes"]) for s in agg.by_worker.values())
                    peak_rss = max(peak_rss, rss)
                    tester_cpu = sum(cpu_by_worker[w] - cpu_start[w] for w in cpu_by_worker)
                    server_cpu = process_cpu_s(target.server_pid) if target.server_pid else None
                    if target.server_pid:
                        srss = process_rss_bytes(target.server_pid)
                        if srss is not None:
                            server_peak_rss = max(server_peak_rss or 0, srss)
                    dt = max(1e-6, now - prev["t"])
                    row = {
                        "t": round(now - t0, 2),
                        "started": sum(int(s.get("started", 0)) for s in agg.by_worker.values()),
                        "connected": connected,
                        "spectators": agg.gauge("spectators"),
                        "msgs_in_per_s": round((counts["msgs_in"] - prev["msgs_in"]) / dt, 1),
                        "bytes_in_per_s": round((counts["bytes_in"] - prev["bytes_in"]) / dt, 1),
                        "inputs_per_s": round((counts["inputs_sent"] - prev["inputs"]) / dt, 1),
                        "latency_p50_ms": _pct(interval["latency"], 50),
                        "latency_p90_ms": _pct(interval["latency"], 90),
                        "latency_p99_ms": _pct(interval["latency"], 99),
                        "latency_max_ms": round(interval["latency"].get_max_value() / 1000, 3)
                        if interval["latency"].get_total_count() else None,
                        "input_rtt_p99_ms": _pct(interval["input_rtt"], 99),
                        "tester_lag_max_ms": round(interval["tester_lag"].get_max_value() / 1000, 1)
                        if interval["tester_lag"].get_total_count() else None,
                        "errors": sum(agg.errors().values()),
                        "disconnects": sum(agg.disconnects().values()),
                        "tester_cpu_pct": round(100 * (tester_cpu - prev["tester_cpu"]) / dt, 1),
                        "tester_rss_mb": round(rss / 2**20, 1),
                        "server_cpu_pct": round(100 * (server_cpu - prev_server_cpu) / dt, 1)
                        if server_cpu is not None and prev_server_cpu is not None else None,
                    }
                    rows.append(row)
                    progress.row(row, scenario.players)
                    prev = {"t": now, "msgs_in": counts["msgs_in"], "bytes_in": counts["bytes_in"],
                            "inputs": counts["inputs_sent"], "tester_cpu": tester_cpu}
                    prev_server_cpu = server_cpu
                    for h in interval.values():
                        h.reset()
                    next_row += ROW_EVERY_S
                    if next_row < now:
                        next_row = now + ROW_EVERY_S
                if now >= hard_end:
                    failures.append(f"{len(live)} worker(s) did not finish by the run's deadline")
                    break
            except KeyboardInterrupt:
                if interrupted:
                    break
                interrupted = True
                progress.note("interrupted: stopping the players (Ctrl-C again to abandon them)")
                for conn in live:
                    try:
                        conn.send(("stop", None))
                    except OSError:
                        pass
                hard_end = min(hard_end, time.time() + 10.0)
        ended = time.time()
        server_cpu_s = None
        if target.server_pid and server_cpu0 is not None:
            last = process_cpu_s(target.server_pid)
            server_cpu_s = None if last is None else last - server_cpu0
        server_after = _settled_metrics(target.metrics_url) if target.metrics_url else None
        progress.finish()
        return RunResult(
            scenario=scenario, target=target, workers=workers, run_id=run_id, started_at=t0, ended_at=ended,
            aggregate=agg, rows=rows, server_before=server_before, server_after=server_after,
            tester_baseline_rss=baseline_rss, tester_peak_rss=peak_rss,
            tester_cpu_s=sum(cpu_by_worker[w] - cpu_start[w] for w in cpu_by_worker), server_cpu_s=server_cpu_s,
            server_peak_rss=server_peak_rss, peak_connected=peak_connected, interrupted=interrupted,
            failures=failures,
        )
    finally:
        for conn in conns:
            conn.close()
        for proc in procs:
            proc.join(timeout=5.0)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5.0)
            if proc.is_alive():
                proc.kill()
                proc.join()


def _ready(conns: Iterable[Connection], timeout: float) -> list[Connection]:
    """The workers' pipes that have a message (or were closed) within ``timeout`` seconds."""
    return [c for c in wait(list(conns), timeout) if isinstance(c, Connection)]


def _recv(conn: Connection) -> tuple[str, dict[str, Any]]:
    """One worker message: a kind ("ready", "failed", "snap", "done") and its fields."""
    msg = conn.recv()
    if not (isinstance(msg, tuple) and len(msg) == 2 and isinstance(msg[0], str) and isinstance(msg[1], dict)):
        raise TypeError(f"unexpected worker message: {msg!r:.80}")
    return msg[0], msg[1]


def _settled_metrics(url: str) -> dict[str, float] | None:
    """The server's metrics once our players have left (bounded wait: counters may lag a little)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    view = gameserver_view(scrape(url))
    while view is not None and view.get("players_connected", 0) > 0 and time.monotonic() < deadline:
        time.sleep(0.1)
        view = gameserver_view(scrape(url))
    return view
