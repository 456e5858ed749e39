"""A worker process: runs its share of the simulated players on one event loop.

Player ``i`` belongs to worker ``i % workers`` and starts at ``t0 + i / ramp_per_s``, so the
ramp is the same whatever the number of workers. The worker reports a snapshot of its
measurements once a second (at t0 + 1 s, t0 + 2 s, ...) over its pipe and a last one when
every player has stopped.
Every wait has a deadline: the worker stops by itself at the end of the run plus a grace
period even if the runner is gone.
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import time
from multiprocessing.connection import Connection
from typing import Any

from loadtest.behaviour import Mix
from loadtest.flows import DirectFlow, make_flow
from loadtest.measure import Recorder
from loadtest.player import PlayerConfig, SimPlayer
from loadtest.spectator import SimSpectator, watch_url
from loadtest.ticker import Ticker

SNAPSHOT_EVERY_S = 1.0
GRACE_S = 15.0  # after the planned end, players still connecting or leaving get this long
GO_TIMEOUT_S = 120.0
LAG_PROBE_S = 0.1


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 1_048_576 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
        except (ValueError, OSError):
            pass
    return soft


def main(index: int, workers: int, conn: Connection, config: dict[str, Any]) -> None:
    """Process entry point (started by the runner with the spawn method)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the runner, which says "stop"
    raise_fd_limit()
    try:
        import uvloop

        uvloop.run(_run(index, workers, conn, config))
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # report, then die: the runner shows it as the worker's failure
        try:
            conn.send(("failed", {"error": f"{type(exc).__name__}: {exc}"}))
        except OSError:
            pass
        raise
    finally:
        conn.close()


async def _run(index: int, workers: int, conn: Connection, config: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    rec = Recorder()
    flow = make_flow(config)
    mix = Mix(config["behaviour"], config["seed"])
    cfg = PlayerConfig(connect_timeout_s=config["connect_timeout_s"], join_timeout_s=config["join_timeout_s"],
                       ping_interval_s=config["ping_interval_s"], retries=config["retries"],
                       tick_hz=config["tick_hz"] or 20)
    conn.send(("ready", {"rss_bytes": rss_bytes(), "cpu_s": time.process_time(), "pid": os.getpid()}))

    # Wait for the start signal (the wall-clock time at which player 0 starts).
    if not await loop.run_in_executor(None, conn.poll, GO_TIMEOUT_S):
        return
    kind, t0 = conn.recv()
    if kind != "go":
        return
    ramp_per_s, players, duration_s = config["ramp_per_s"], config["players"], config["duration_s"]
    base = loop.time() - (time.time() - t0)  # loop time of t0
    end_at = base + players / ramp_per_s + duration_s
    hard_end = end_at + GRACE_S
    stop = asyncio.Event()
    ticker = Ticker(loop, cfg.tick_hz, rec)
    replica_every = int(config.get("replica_every") or 1)
    sims: list[SimPlayer] = []
    tasks: set[asyncio.Task[None]] = set()

    def on_control() -> None:
        try:
            while conn.poll():
                if conn.recv()[0] == "stop":
                    stop.set()
        except (EOFError, OSError):
            stop.set()  # the runner is gone: stop too

    loop.add_reader(conn.fileno(), on_control)

    async def spawner() -> None:
        for i in range(index, players, workers):
            delay = base + i / ramp_per_s - loop.time()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                except TimeoutError:
                    pass
            if stop.is_set() or loop.time() >= end_at:
                return
            sim = SimPlayer(i, flow, mix.make(i), rec, cfg, end_at, ticker, replica=i % replica_every == 0)
            sims.append(sim)
            task = loop.create_task(sim.play())
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    watchers: list[SimSpectator] = []

    async def spectate() -> None:
        """Spectators of match k start once match k should be full (direct flow only)."""
        per_match, relay = config["spectators_per_match"], config.get("spectator_url")
        direct = flow
        if not per_match or not relay or not isinstance(direct, DirectFlow):
            return
        room = config["room_size"]
        matches = -(-players // room)
        for s in range(index, matches * per_match, workers):
            k = s // per_match
            delay = base + min(players, (k + 1) * room) / ramp_per_s + 1.0 - loop.time()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                except TimeoutError:
                    pass
            if stop.is_set() or loop.time() >= end_at:
                return
            match_id = direct.match_of(k * room)[0]
            sim = SimSpectator(watch_url(relay, match_id), rec, end_at, retries=config["retries"],
                               connect_timeout_s=config["connect_timeout_s"])
            watchers.append(sim)
            task = loop.create_task(sim.watch())
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    def snapshot(final: bool) -> dict[str, Any]:
        snap = rec.take()
        snap.update(t=time.time(), cpu_s=time.process_time(), rss_bytes=rss_bytes(), final=final,
                    started=len(sims))
        return snap

    async def lag_probe() -> None:
        # The load tester's own health: a late wake-up here delays every message it reads.
        while True:
            before = loop.time()
            await asyncio.sleep(LAG_PROBE_S)
            rec.time_us("tester_lag", (loop.time() - before - LAG_PROBE_S) * 1e6)

    spawning = loop.create_task(spawner())
    spectating = loop.create_task(spectate())
    probing = loop.create_task(lag_probe())
    next_snapshot = base + SNAPSHOT_EVERY_S  # on a grid from t0, so reports fall just after each second
    try:
        while True:
            try:
                await asyncio.wait_for(stop.wait(), max(0.0, next_snapshot - loop.time()))
            except TimeoutError:
                pass
            while next_snapshot <= loop.time():
                next_snapshot += SNAPSHOT_EVERY_S
            if stop.is_set():
                spawning.cancel()
                spectating.cancel()
                for sim in sims:
                    sim.end_at = loop.time()
                    sim.finish()
                for watcher in watchers:
                    watcher.end_at = loop.time()
                    watcher.finish()
                stop.clear()
                stopping_at = loop.time()
                hard_end = min(hard_end, stopping_at + 5.0)
            conn.send(("snap", snapshot(False)))
            if spawning.done() and spectating.done() and not tasks:
                break
            if loop.time() >= hard_end:
                rec.errors["stuck_at_end"] += len(tasks)  # players or spectators that did not stop in time
                for task in list(tasks):
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                break
    finally:
        loop.remove_reader(conn.fileno())
        spawning.cancel()
        spectating.cancel()
        probing.cancel()
        ticker.close()
        await flow.close()
    conn.send(("done", snapshot(True)))
