"""How many watchers one relay process serves at 20 deltas/s each, with what lag and memory.

    .venv/bin/python benchmarks/spectator_fanout.py --spectators 1000,5000 --matches 10 --seconds 10

What runs (on a two-core machine, pinned with taskset):

* core 0: one relay process (``elysium spectator``), nothing else;
* core 1: Redis, this script (it writes the synthetic feeds) and the load clients.

The feeds are written exactly as the game server writes them (``elysium.feeds.redis_feed.RedisFeedWriter``:
one delta per tick at 20 Hz with ``ts`` = wall time in microseconds, a keyframe every 40
ticks, an events message now and then), for ``--matches`` matches with ``--players`` each.
The load clients are raw asyncio protocols (uvloop) in a separate process: they do the
websocket handshake, then count deltas and read ``ts`` straight out of the bytes (no
msgpack decoding), so a client costs a few microseconds per message. Lag is receipt time minus
``ts`` minus the delay: Redis round trip, relay, kernel and client included.
Memory per spectator is the relay's RSS growth divided by the watchers added.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from array import array
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TS_MARK = b"\xa2ts\xcf"  # msgpack: the key "ts" then a uint64 (wall time in microseconds)
DELTA_MARK = b"\xa1t\xa5delta"


# --- the load client (runs in its own process) ------------------------------------------------


class Probe(asyncio.Protocol):
    """One watcher: handshake, then delta counting and lag sampling straight from the bytes.

    A delta's msgpack starts with its type tag, so ``DELTA_MARK`` occurs once per delta
    message; ``ts`` of the oldest message in a read gives that read's lag (the worst of the
    read: a delayed watcher's message may carry a bundle of ticks). The relay's
    framing itself is checked by the test suite, not here.
    """

    __slots__ = ("path", "head", "open", "deltas", "nbytes", "closed", "transport", "ready", "stats")

    def __init__(self, path: str, stats: Stats, ready: asyncio.Future[None]) -> None:
        self.path = path
        self.head = b""
        self.open = False
        self.deltas = 0
        self.nbytes = 0
        self.closed = False
        self.transport: asyncio.Transport | None = None
        self.ready = ready
        self.stats = stats

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A TCP connection's transport (uvloop's does not subclass asyncio.Transport, so no isinstance).
        self.transport = tcp = cast(asyncio.Transport, transport)
        key = base64.b64encode(os.urandom(16)).decode()
        tcp.write(f"GET {self.path} HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n".encode())

    def data_received(self, data: bytes) -> None:
        if not self.open:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.head.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(RuntimeError(self.head[:80].decode(errors="replace")))
                return
            self.open = True
            self.ready.set_result(None)
            data, self.head = self.head[end + 4:], b""
            if not data:
                return
        # Everything below runs in C but the call itself: a watcher costs microseconds per read.
        self.nbytes += len(data)
        self.deltas += data.count(DELTA_MARK)
        stats = self.stats
        if stats.recording:
            i = data.find(TS_MARK)
            if 0 <= i <= len(data) - 12:
                stats.lags.append(time.time() - int.from_bytes(data[i + 4:i + 12], "big") / 1e6 - stats.delay)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed during handshake"))


class Stats:
    def __init__(self, delay: float) -> None:
        self.recording = False
        self.delay = delay
        self.lags = array("d")


async def run_clients(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stats = Stats(args.delay)
    probes: list[Probe] = []
    query = f"?delay={args.delay}" if args.delay else ""
    for i in range(args.count):
        if i == args.matches:
            # One watcher per match is in: the relay has paid its per-match and first-use costs.
            print(json.dumps({"warm": i}), flush=True)
            await loop.run_in_executor(None, sys.stdin.readline)
        ready: asyncio.Future[None] = loop.create_future()
        probe = Probe(f"/v1/watch/bench-{i % args.matches}{query}", stats, ready)
        await loop.create_connection(lambda p=probe: p, "127.0.0.1", args.port)  # type: ignore[misc]
        probes.append(probe)
        await ready
        if i % 200 == 199:
            await asyncio.sleep(0.01)  # let the relay breathe between handshakes
    print(json.dumps({"connected": len(probes)}), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # "measure"
    start_deltas = [p.deltas for p in probes]
    start_bytes = sum(p.nbytes for p in probes)
    stats.recording = True
    started = time.monotonic()
    cpu0 = time.process_time()
    await asyncio.sleep(args.seconds)
    stats.recording = False
    elapsed = time.monotonic() - started
    cpu = time.process_time() - cpu0
    rates = sorted((p.deltas - d) / elapsed for p, d in zip(probes, start_deltas, strict=True))
    lags = sorted(stats.lags)

    def pct(q: float) -> float:
        return lags[min(len(lags) - 1, int(q * len(lags)))] * 1000 if lags else float("nan")

    print(json.dumps({
        "spectators": len(probes), "closed": sum(p.closed for p in probes),
        "client_cpu_pct": round(100 * cpu / elapsed, 1),
        "deltas_per_s_min": round(rates[0], 2), "deltas_per_s_median": round(rates[len(rates) // 2], 2),
        "bytes_per_s": round((sum(p.nbytes for p in probes) - start_bytes) / elapsed),
        "lag_ms_p50": round(pct(0.5), 2), "lag_ms_p90": round(pct(0.9), 2),
        "lag_ms_p95": round(pct(0.95), 2), "lag_ms_p99": round(pct(0.99), 2), "lag_ms_max": round(pct(1.0), 2),
        "samples": len(lags),
    }), flush=True)
    for p in probes:
        if p.transport is not None:
            p.transport.close()


# --- the feed writer -------------------------------------------------------------------------


def synthetic_delta(rng: random.Random, n: int, players: int, ts: int) -> dict[str, Any]:
    moved = [[s, rng.randint(0, 8000), rng.randint(0, 6000), rng.randint(-3141, 3141)] for s in range(players)]
    msg: dict[str, Any] = {"t": "delta", "n": n, "ts": ts, "p": moved}
    if n % 7 == 0:
        msg["s"] = [[rng.randrange(players), 80, 1, 3, 3, 1, 0]]
    if n % 5 == 0:
        msg["o+"] = [[n, rng.randrange(players), 100, 200, 1800, 0, n]]
        msg["o-"] = [n - 15]
    msg["a"] = [[s, n] for s in range(players)]
    return msg


async def write_feeds(redis_url: str, matches: int, players: int, stop: asyncio.Event, spread: bool = False,
                      write_lags: array[float] | None = None, described: asyncio.Event | None = None) -> None:
    """20 Hz feeds for ``matches`` matches: all on one tick grid (as rooms of one game server
    are), or with ``spread`` each match at its own phase (matches on different servers).

    Each tick's entries are flushed at once (the game server flushes after every batch of
    ticks); ``write_lags`` gets, per flush, the time from ``ts`` until Redis acknowledged,
    the part of the measured lag that is not the relay's."""
    import redis.asyncio as aioredis

    from elysium.feeds import MatchInfo
    from elysium.feeds.redis_feed import RedisFeedWriter
    from gameserver.modes.arena import Arena

    client = aioredis.from_url(redis_url)
    writer = RedisFeedWriter(client, maxlen=50_000, retention_s=600)
    rng = random.Random(1)
    ids = [f"bench-{m}" for m in range(matches)]
    for match_id in ids:
        writer.describe(match_id, MatchInfo(match_id=match_id, mode="arena", server_id="bench", state="running",
                                            tick=0, tick_hz=20, players=(), started_at_us=time.time_ns() // 1000,
                                            updated_at_ms=int(time.time() * 1000), end_reason=None,
                                            columns=Arena.column_layout(), map_info=dict(Arena.MAP)), True)
    writer.kick()
    await writer.drain(5.0)
    if described is not None:
        described.set()  # watchers may come: every match is listed
    loop = asyncio.get_running_loop()
    n = 0
    next_at = loop.time()
    groups = [[m] for m in ids] if spread else [ids]
    while not stop.is_set():
        n += 1
        for group in groups:
            ts = write_tick(writer, rng, group, n, players)
            await writer.drain(1.0)
            if write_lags is not None:
                write_lags.append(time.time() - ts / 1e6)
            next_at += 0.05 / len(groups)
            await asyncio.sleep(max(0.0, next_at - loop.time()))
    await writer.drain(2.0)
    await client.aclose()


def write_tick(writer: Any, rng: random.Random, ids: list[str], n: int, players: int) -> int:
    import msgpack

    ts = time.time_ns() // 1000
    for match_id in ids:
        writer.append(match_id, "d", n, msgpack.packb(synthetic_delta(rng, n, players, ts)))
        if n % 13 == 0:
            writer.append(match_id, "e", n, msgpack.packb({"t": "events", "n": n, "e": [{"k": "hit", "who": 1}]}))
        if n % 40 == 0:
            kf = {"t": "keyframe", "n": n, "ts": ts, "match": match_id, "mode": "arena", "state": "running",
                  "tick_hz": 20, "players": [[s, 1, 2, 3, 100, 1, 0, 0, 0, 0] for s in range(players)],
                  "objects": [], "roster": [[s, f"p{s}", f"p{s}", 0, True] for s in range(players)],
                  "a": [[s, n] for s in range(players)]}
            writer.append(match_id, "k", n, msgpack.packb(kf))
    return ts


# --- the orchestration -----------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_s(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def runqueue_wait_s(pid: int) -> float:
    """Time ``pid``'s main thread spent runnable but waiting for a CPU (/proc/PID/schedstat)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan")


def metric(port: int, name: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def lag_buckets(port: int, name: str = "delivery_lag_seconds") -> list[tuple[float, float]]:
    """A histogram of the relay's: (upper bound, cumulative count)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    buckets = []
    for line in text.splitlines():
        if line.startswith(f"elysium_spectator_{name}_bucket"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float(le), float(line.rsplit(" ", 1)[1])))
    return buckets


def p99_bound_ms(before: list[tuple[float, float]], after: list[tuple[float, float]]) -> float:
    """The bucket bound under which 99% of the releases in the window fell (the relay's own share:
    release time minus the entry's Redis time, per batch)."""
    counts = [(le, b - a) for (le, a), (_, b) in zip(before, after, strict=True)]
    total = counts[-1][1] if counts else 0
    for le, count in counts:
        if total and count >= 0.99 * total:
            return le * 1000
    return float("nan")


def pin(cores: str) -> list[str]:
    return ["taskset", "-c", cores] if cores and os.path.exists("/usr/bin/taskset") else []


async def one_run(args: argparse.Namespace, redis_url: str, count: int) -> dict[str, Any]:
    from elysium import procs

    port = procs.free_port()
    env = {**os.environ, "ELYSIUM_REDIS_URL": redis_url, "ELYSIUM_SPECTATOR_ID": "bench",
           "ELYSIUM_SPECTATOR_MAX_DELAY_S": "60", "ELYSIUM_LOG_LEVEL": "warning"}
    if args.bundle is not None:
        env["ELYSIUM_SPECTATOR_BUNDLE_S"] = str(args.bundle)
    relay = subprocess.Popen([*pin(args.relay_core), sys.executable, "-m", "elysium", "spectator", "--port",
                              str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
    clients: subprocess.Popen[bytes] | None = None
    stop = asyncio.Event()
    write_lags = array("d")
    described = asyncio.Event()
    writing = asyncio.create_task(write_feeds(redis_url, args.matches, args.players, stop, args.phases == "spread",
                                              write_lags, described))
    try:
        assert relay.stdout is not None
        json.loads(relay.stdout.readline())
        await asyncio.wait_for(described.wait(), 30)
        clients = subprocess.Popen(
            [*pin(args.client_core), sys.executable, __file__, "--client", "--port", str(port), "--count", str(count),
             "--matches", str(args.matches), "--seconds", str(args.seconds), "--delay", str(args.delay)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)
        assert clients.stdout is not None and clients.stdin is not None
        line = await asyncio.get_running_loop().run_in_executor(None, clients.stdout.readline)
        warm = json.loads(line)["warm"]
        await asyncio.sleep(2.0)
        base_rss = rss_kib(relay.pid)
        clients.stdin.write(b"go\n")
        clients.stdin.flush()
        line = await asyncio.get_running_loop().run_in_executor(None, clients.stdout.readline)
        connected = json.loads(line)["connected"]
        await asyncio.sleep(args.warmup + args.delay)
        skipped_before = metric(port, "elysium_spectator_frames_skipped_total")
        buckets_before = lag_buckets(port)
        fanout_before = lag_buckets(port, "fanout_seconds")
        cpu_before = cpu_s(relay.pid)
        waited_before = runqueue_wait_s(relay.pid)
        clients.stdin.write(b"measure\n")
        clients.stdin.flush()
        del write_lags[:]
        t0 = time.monotonic()
        line = await asyncio.get_running_loop().run_in_executor(None, clients.stdout.readline)
        wall = time.monotonic() - t0
        result: dict[str, Any] = json.loads(line)
        rss = rss_kib(relay.pid)
        writes = sorted(write_lags)
        user, system = (b - a for a, b in zip(cpu_before, cpu_s(relay.pid), strict=True))
        result.update({
            "connected": connected,
            "relay_cpu_pct": round(100 * (user + system) / wall, 1),
            "relay_sys_pct": round(100 * system / wall, 1),
            # Runnable but not running: time the relay waited for its core (other processes on it).
            "relay_waited_for_cpu_pct": round(100 * (runqueue_wait_s(relay.pid) - waited_before) / wall, 1),
            "relay_rss_mib": round(rss / 1024, 1),
            "relay_base_rss_mib": round(base_rss / 1024, 1),
            "kib_per_spectator": round((rss - base_rss) / max(1, connected - warm), 2),
            "frames_skipped": metric(port, "elysium_spectator_frames_skipped_total") - skipped_before,
            "relay_release_p99_ms_at_most": p99_bound_ms(buckets_before, lag_buckets(port)),
            "relay_fanout_p99_ms_at_most": p99_bound_ms(fanout_before, lag_buckets(port, "fanout_seconds")),
            "feed_write_ms_p50": round(writes[len(writes) // 2] * 1000, 2) if writes else None,
            "feed_write_ms_p99": round(writes[int(0.99 * len(writes))] * 1000, 2) if writes else None,
        })
        return result
    finally:
        stop.set()
        await writing
        if clients is not None:
            clients.wait(30)
        relay.send_signal(signal.SIGTERM)
        try:
            relay.wait(30)
        except subprocess.TimeoutExpired:
            relay.kill()


async def main(args: argparse.Namespace) -> None:
    from elysium import procs

    redis = procs.start_redis()
    feed_core = args.feed_core or args.client_core
    if pin(feed_core):
        subprocess.run(["taskset", "-pc", feed_core, str(redis.proc.pid)], check=False, capture_output=True)
        os.sched_setaffinity(0, {int(c) for c in feed_core.split(",")})
    try:
        rows = []
        for count in [int(c) for c in args.spectators.split(",")]:
            row = await one_run(args, redis.url, count)
            row["ok"] = (row["lag_ms_p99"] < 50 and row["deltas_per_s_min"] >= 19 and row["closed"] == 0
                         and row["kib_per_spectator"] <= 30)
            rows.append(row)
            print(json.dumps(row), flush=True)
        print(json.dumps({"matches": args.matches, "players": args.players, "delay_s": args.delay,
                          "phases": args.phases,
                          "seconds": args.seconds, "runs": rows}, indent=1))
    finally:
        redis.stop()


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spectators", default="1000,5000", help="comma-separated counts, one relay run each")
    ap.add_argument("--matches", type=int, default=10)
    ap.add_argument("--players", type=int, default=10, help="players per synthetic match (delta size)")
    ap.add_argument("--seconds", type=float, default=10.0, help="measurement window per run")
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--phases", choices=("aligned", "spread"), default="aligned",
                    help="aligned: every match ticks at the same instant (one game server); spread: each at its own")
    ap.add_argument("--delay", type=float, default=0.0, help="delay every watcher asks for (s)")
    ap.add_argument("--bundle", type=float, default=None,
                    help="the relay's ELYSIUM_SPECTATOR_BUNDLE_S (default: the relay's default, 0.1 s)")
    ap.add_argument("--relay-core", default="0")
    ap.add_argument("--client-core", default="1")
    ap.add_argument("--feed-core", default="", help="core for Redis and the feed writer (default: the client's)")
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, help=argparse.SUPPRESS)
    return ap.parse_args()


if __name__ == "__main__":
    arguments = parse()
    import uvloop

    uvloop.run(run_clients(arguments) if arguments.client else main(arguments))
