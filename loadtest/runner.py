"""The run: start the workers, hand them the start time, merge what they report, watch the server.

The runner owns no simulated player. It folds each worker snapshot into the run's totals
and into the time series (:mod:`loadtest.timeline`, bucketed by when things happened),
samples the server's CPU, and shows each finished second as progress.
Every wait has a deadline; workers that outlive theirs are terminated by process id.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from loadtest import worker
from loadtest.pool import LocalPool, WorkerPool
from loadtest.errors import TargetError
from loadtest.measure import Aggregate
from loadtest.progress import Progress
from loadtest.scenario import Scenario
from loadtest.serverstats import gameserver_view, process_cpu_s, process_rss_bytes, scrape
from loadtest.timeline import Timeline

READY_TIMEOUT_S = 60.0
POLL_S = 0.25  # how often the runner looks at the server's CPU and for finished rows
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
    worker_cpu: dict[int, list[tuple[float, float]]] = field(default_factory=dict)  # (report time, CPU s) per worker
    worker_names: dict[int, str] = field(default_factory=dict)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _source(worker: int) -> str:
    return f"worker-{worker}"


def run(scenario: Scenario, target: Target, *, workers: int, progress: Progress,
        pool: WorkerPool | None = None) -> RunResult:
    """Run the scenario on ``workers`` local worker processes, or on the workers of ``pool``."""
    run_id = uuid.uuid4().hex[:8]
    config: dict[str, Any] = {
        "flow": scenario.flow, "url": target.url, "server_id": target.server_id,
        "join_key_file": target.join_key_file, "run_id": run_id, "players": scenario.players,
        "room_size": scenario.room_size, "mode": scenario.mode, "teams": scenario.teams, "ramp_per_s": scenario.ramp_per_s, "duration_s": scenario.duration_s,
        "tick_hz": scenario.tick_hz, "seed": scenario.seed, "behaviour": scenario.behaviour,
        "connect_timeout_s": scenario.connect_timeout_s, "join_timeout_s": scenario.join_timeout_s,
        "ping_interval_s": scenario.ping_interval_s, "retries": scenario.retries,
        "replica_every": scenario.replica_every,
        "commerce_url": target.commerce_url, "matchmaker_url": target.matchmaker_url,
        "spectator_url": target.spectator_url, "spectators_per_match": scenario.spectators_per_match,
    }
    workers = max(1, min(workers, scenario.players))
    pool = pool if pool is not None else LocalPool(workers)
    conns: dict[Connection, int] = {}
    failures: list[str] = []
    agg = Aggregate()
    rows: list[dict[str, Any]] = []
    interrupted = False
    try:
        conns = pool.start(config)
        workers = len(conns)
        baseline_rss = 0
        pids: dict[int, int] = {}
        ready_cpu: dict[int, float] = {}
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
                    raise TargetError(f"{pool.name(conns[conn])} exited while starting") from None
                if kind == "failed":
                    raise TargetError(f"{pool.name(conns[conn])} failed to start: {info['error']}")
                baseline_rss += info["rss_bytes"]
                pids[conns[conn]] = info["pid"]
                ready_cpu[conns[conn]] = info["cpu_s"]
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
        timeline = Timeline(t0)
        for w, cpu in ready_cpu.items():
            timeline.add(_source(w), t0, {"cpu_s": cpu})  # nothing is counted before the start signal
        if server_cpu0 is not None:
            timeline.add("server", t0, {"server_cpu_s": server_cpu0})
        last_server_sample = t0
        cpu_by_worker: dict[int, float] = dict(ready_cpu)
        cpu_start: dict[int, float] = dict(ready_cpu)
        worker_cpu: dict[int, list[tuple[float, float]]] = {w: [(t0, cpu)] for w, cpu in ready_cpu.items()}
        peak_rss = peak_connected = 0
        server_peak_rss: int | None = None

        def take_rows(new: list[dict[str, Any]]) -> None:
            for row in new:
                rows.append(row)
                progress.row(row, scenario.players)

        while live:
            try:
                ready = _ready(live, max(0.0, min(POLL_S, hard_end - time.time())))
                for conn in ready:
                    w = live[conn]
                    try:
                        kind, snap = _recv(conn)
                    except (EOFError, OSError):
                        failures.append(f"{pool.name(w)} exited before its last report")
                        del live[conn]
                        timeline.close(_source(w))
                        continue
                    if kind == "failed":
                        failures.append(f"{pool.name(w)} failed: {snap['error']}")
                        continue
                    decoded = agg.add(w, snap)
                    cpu_by_worker[w] = snap["cpu_s"]
                    worker_cpu.setdefault(w, []).append((snap["t"], snap["cpu_s"]))
                    counts = snap["counts"]
                    timeline.add(_source(w), snap["t"], {
                        "msgs_in": counts.get("msgs_in", 0), "bytes_in": counts.get("bytes_in", 0),
                        "inputs_sent": counts.get("inputs_sent", 0), "cpu_s": snap["cpu_s"],
                    }, {
                        "started": snap.get("started", 0), "connected": snap["connected"],
                        "spectators": snap["spectators"], "errors": sum(snap["errors"].values()),
                        "disconnects": sum(snap["disconnects"].values()), "rss_bytes": snap["rss_bytes"],
                    }, decoded)
                    peak_connected = max(peak_connected, agg.gauge("connected"))
                    peak_rss = max(peak_rss, sum(int(s["rss_bytes"]) for s in agg.by_worker.values()))
                    if kind == "done":
                        del live[conn]
                        timeline.close(_source(w))
                now = time.time()
                if target.server_pid and now - last_server_sample >= POLL_S:
                    last_server_sample = now
                    server_cpu = process_cpu_s(target.server_pid)
                    srss = process_rss_bytes(target.server_pid)
                    if server_cpu is None:
                        timeline.close("server")
                    elif server_cpu0 is not None:
                        timeline.add("server", now, {"server_cpu_s": server_cpu})
                    if srss is not None:
                        server_peak_rss = max(server_peak_rss or 0, srss)
                take_rows(timeline.ready(now))
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
        if target.server_pid and server_cpu0 is not None:
            last = process_cpu_s(target.server_pid)
            if last is not None:
                timeline.add("server", time.time(), {"server_cpu_s": last})
        take_rows(timeline.flush())
        ended = time.time()
        server_cpu_s = None
        if target.server_pid and server_cpu0 is not None:
            last = process_cpu_s(target.server_pid)
            server_cpu_s = None if last is None else last - server_cpu0
        server_after = _settled_metrics(target.metrics_url) if target.metrics_url else None
        progress.finish()
        lost = getattr(pool, "agents_lost", None)
        if lost is not None:
            failures.extend(f for f in lost() if f not in failures)
        return RunResult(
            scenario=scenario, target=target, workers=workers, run_id=run_id, started_at=t0, ended_at=ended,
            aggregate=agg, rows=rows, server_before=server_before, server_after=server_after,
            tester_baseline_rss=baseline_rss, tester_peak_rss=peak_rss,
            tester_cpu_s=sum(cpu_by_worker[w] - cpu_start[w] for w in cpu_by_worker), server_cpu_s=server_cpu_s,
            server_peak_rss=server_peak_rss, peak_connected=peak_connected, interrupted=interrupted,
            failures=failures, worker_cpu=worker_cpu, worker_names={w: pool.name(w) for w in conns.values()},
        )
    finally:
        pool.close()


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
