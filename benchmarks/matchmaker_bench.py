"""Matchmaker benchmark: ticket intake, time to match a full queue, waits under steady arrivals.

    .venv/bin/python benchmarks/matchmaker_bench.py [--tickets 10000] [--intake-s 5] [--replicas 1,2] [--steady-s 20]

Starts its own Redis and embedded MongoDB server. Intake goes through the real HTTP API
of an ``elysium matchmaker --workers N`` child process tree, for each N in ``--replicas``
(token check, rating lookup, atomic create);
matching runs in this process against the same Redis, with one registry heartbeat.
Results are printed as one JSON line at the end; docs/benchmarks.md (Matchmaker) records them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from elysium import config, procs, redisreply, tokens
from gameserver.redisio import Registry
from matchmaker import keys
from matchmaker.app import SERVICES, create_app
from matchmaker.modes import ModeConfig
from matchmaker.settings import MatchmakerSettings
from matchmaker.tickets import NewTicket

ROOM_10 = ModeConfig("arena", min_players=2, max_players=10, max_wait_s=30.0)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) if ordered else float("nan")


async def heartbeat(client: aioredis.Redis, seats: int) -> None:
    await Registry(client, "bench-gs", 60.0).beat({
        "address": "ws://127.0.0.1:1/v1/play", "region": "local", "capacity": seats, "seats_free": seats,
        "rooms": 0, "rooms_free": seats // 2, "players": 0, "draining": False, "modes": ["arena"]})


def cpu_s(pids: list[int]) -> float:
    """User plus system CPU seconds used so far by the processes ``pids``."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    await reader.readexactly(length)
    return int(head[9:12])


async def intake(host: str, port: int, signer: tokens.Signer, seconds: float, connections: int,
                 reuse_tokens: bool, service_pids: list[int], redis_pid: int) -> dict[str, Any]:
    """Distinct players create tickets as fast as the service answers.

    The load generator writes prepared HTTP/1.1 requests on keep-alive connections and reads
    the answers by Content-Length: it stays light (its CPU per request is reported next to
    the service's), so the shared cores go to the service. Every request carries a different
    player's access token, signed with the player key. With ``reuse_tokens`` each token has
    been seen before, on the same connection (so by the same replica), as after a client
    read a ticket or created a party; otherwise every request carries a token the service
    has never verified. Connection k sends requests k, k + connections, ... in order.
    """
    total = int(seconds * 6000)
    body = json.dumps({"mode": "arena", "regions": {"nowhere": 30}}).encode()
    posts, gets = [], []
    for i in range(total):
        token = signer.issue(f"intake-{i}", tokens.PLAYER_AUDIENCE, 600)
        posts.append((f"POST /v1/tickets HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
        gets.append((f"GET /v1/tickets/{'0' * 32} HTTP/1.1\r\nHost: {host}\r\n"
                     f"Authorization: Bearer {token}\r\n\r\n").encode())
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    ready = 0
    go = asyncio.Event()
    deadline = 0.0

    async def worker(k: int) -> None:
        nonlocal ready
        reader, writer = await asyncio.open_connection(host, port)
        try:
            if reuse_tokens:  # the service meets each token once (reading a ticket it does not have)
                for req in gets[k::connections]:
                    writer.write(req)
                    if await _read_response(reader) != 404:
                        raise RuntimeError("warm-up request was not answered 404")
            ready += 1
            if ready == connections:
                go.set()
            await go.wait()
            for req in posts[k::connections]:
                if time.perf_counter() >= deadline:
                    break
                t0 = time.perf_counter()
                writer.write(req)
                status = await _read_response(reader)
                statuses[status] = statuses.get(status, 0) + 1
                latencies.append(time.perf_counter() - t0)
        finally:
            writer.close()

    async def timing() -> tuple[float, tuple[float, float, float], tuple[float, float, float]]:
        nonlocal deadline
        await go.wait()
        deadline = time.perf_counter() + seconds
        return time.perf_counter(), (time.process_time(), cpu_s(service_pids), cpu_s([redis_pid])), (0, 0, 0)

    clock = asyncio.ensure_future(timing())
    await asyncio.gather(*(worker(k) for k in range(connections)))
    started, cpu0, _ = await clock
    elapsed = time.perf_counter() - started
    cpu1 = (time.process_time(), cpu_s(service_pids), cpu_s([redis_pid]))
    created = statuses.get(201, 0)
    done = max(1, sum(statuses.values()))
    per_request_us = [round((b - a) / done * 1e6) for a, b in zip(cpu0, cpu1, strict=True)]
    return {"tickets_per_s": round(created / elapsed), "created": created, "statuses": statuses,
            "seconds": round(elapsed, 2), "ran_out_of_requests": created >= total,
            "cpu_us_per_request": dict(zip(("client", "service", "redis"), per_request_us, strict=True)),
            "latency_p50_ms": round(pct(latencies, 0.5) * 1000, 1),
            "latency_p99_ms": round(pct(latencies, 0.99) * 1000, 1), "connections": connections,
            "tokens_seen_before": reuse_tokens}


async def match_full_queue(settings: MatchmakerSettings, n: int) -> dict[str, Any]:
    app = create_app(settings, modes={ROOM_10.name: ROOM_10}, run_loops=False)
    svc = app[SERVICES]
    client = svc.redis
    rng = random.Random(1)
    now = int(time.time() * 1000)
    tickets = [NewTicket(uuid.uuid4().hex, "arena", f"q{i}", "", "",
                         ({"id": f"q{i}", "name": f"q{i}", "rating": round(rng.gauss(25, 5), 3)},),
                         (("local", 20.0),), False, now - rng.randint(0, 10_000)) for i in range(n)]
    for k in range(0, n, 1000):
        await asyncio.gather(*(svc.queue.create(t) for t in tickets[k:k + 1000]))
    await heartbeat(client, n * 2)
    started = time.perf_counter()
    passes: list[float] = []
    matches = 0
    while await client.zcard(keys.queue("arena")) >= 10 and len(passes) < 20:
        t0 = time.perf_counter()
        report = await svc.matcher.run_pass()
        passes.append(round(time.perf_counter() - t0, 3))
        matches += report.matches
        if not report.matches:
            break
    total = time.perf_counter() - started
    left = await client.zcard(keys.queue("arena"))
    await client.aclose()
    await svc.mongo.close()
    return {"tickets": n, "matches": matches, "left_queued": left, "seconds": round(total, 3), "passes": passes}


async def steady(settings: MatchmakerSettings, rate: float, seconds: float) -> dict[str, Any]:
    """Tickets arrive at a steady rate; one matching loop runs; waits are measured at match time."""
    app = create_app(settings, modes={ROOM_10.name: ROOM_10}, run_loops=False)
    svc = app[SERVICES]
    client = svc.redis
    await heartbeat(client, 100_000)
    stop = asyncio.Event()
    loop_task = asyncio.create_task(svc.matcher.run(stop, settings.match_interval_s))
    rng = random.Random(2)
    created: list[str] = []
    t_end = time.perf_counter() + seconds
    k = 0
    start = time.perf_counter()
    while time.perf_counter() < t_end:
        due = int((time.perf_counter() - start) * rate)
        batch = []
        while k < due:
            batch.append(NewTicket(uuid.uuid4().hex, "arena", f"s{k}", "", "",
                                   ({"id": f"s{k}", "name": f"s{k}", "rating": round(rng.gauss(25, 5), 3)},),
                                   (("local", 20.0),), False, int(time.time() * 1000)))
            k += 1
        await asyncio.gather(*(svc.queue.create(t) for t in batch))
        created.extend(t.ticket_id for t in batch)
        if int(time.perf_counter() - start) % 2 == 0:
            await heartbeat(client, 100_000)
        await asyncio.sleep(0.02)
    await asyncio.sleep(2.0)
    stop.set()
    await loop_task
    waits = []
    still = 0
    async with client.pipeline(transaction=False) as pipe:
        for tid in created:
            pipe.hmget(keys.ticket(tid), "status", "created_ms", "ended_ms")
        rows = redisreply.each(await pipe.execute(), len(created))
    for row in rows:
        status, created_ms, ended_ms = redisreply.optional_texts(row)
        if status == "matched":
            waits.append((redisreply.integer(ended_ms) - redisreply.integer(created_ms)) / 1000)
        else:
            still += 1
    await client.aclose()
    await svc.mongo.close()
    return {"arrivals_per_s": rate, "seconds": seconds, "tickets": len(created), "matched": len(waits),
            "not_matched_at_end": still, "wait_p50_s": pct(waits, 0.5), "wait_p90_s": pct(waits, 0.9),
            "wait_p99_s": pct(waits, 0.99), "wait_max_s": round(max(waits), 3) if waits else None,
            "wait_mean_s": round(statistics.fmean(waits), 3) if waits else None}


async def intake_parts(env: dict[str, str], signer: tokens.Signer, redis_url: str, redis_pid: int,
                       args: argparse.Namespace) -> dict[str, Any]:
    """Both intake runs against an ``elysium matchmaker --workers N`` child, for each N in ``--replicas``."""
    out: dict[str, Any] = {}
    for replicas in (int(r) for r in args.replicas.split(",")):
        port = procs.free_port()
        child = subprocess.Popen([sys.executable, "-m", "elysium", "matchmaker", "--port", str(port),
                                  "--workers", str(replicas)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            assert child.stdout is not None
            ready = json.loads(child.stdout.readline())  # {"event": "listening", ...} once every worker listens
            pids = ready.get("pids", [child.pid])
            for name, known in (("intake_fresh_tokens", False), ("intake_known_tokens", True)):
                await flush_redis(redis_url)
                result = await intake("127.0.0.1", port, signer, args.intake_s, args.connections, known,
                                      pids, redis_pid)
                result["replicas"] = replicas
                out[f"{name}_x{replicas}"] = result
                print(json.dumps({f"{name}_x{replicas}": result}), flush=True)
        finally:
            child.terminate()
            child.wait(30)
    return out


async def flush_redis(url: str) -> None:
    client = aioredis.from_url(url)
    await client.flushall()
    await client.aclose()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=10_000)
    ap.add_argument("--intake-s", type=float, default=5.0)
    ap.add_argument("--connections", type=int, default=32, help="keep-alive connections of the intake client")
    ap.add_argument("--replicas", default="1,2", help="matchmaker worker counts to measure intake with")
    ap.add_argument("--log-level", default="warning",
                    help="ELYSIUM_LOG_LEVEL of the service (info writes one access-log line per request)")
    ap.add_argument("--steady-s", type=float, default=20.0)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--repeat", type=int, default=3, help="runs of the full-queue test")
    ap.add_argument("--parts", default="intake,queue,steady", help="which parts to run")
    args = ap.parse_args()
    redis_child, mongo_child = procs.start_redis(), procs.start_mongo()
    keydir = Path(tempfile.mkdtemp(prefix="mmbench-"))
    for name in ("join", "player"):
        tokens.generate_keypair(keydir, name)
    env = {**os.environ, "ELYSIUM_REDIS_URL": redis_child.url, "ELYSIUM_MONGO_URL": mongo_child.url,
           "ELYSIUM_MATCHMAKER_DB": "bench", "ELYSIUM_PLAYER_PUBLIC_KEY_FILE": str(keydir / "player.pub"),
           "ELYSIUM_JOIN_PRIVATE_KEY_FILE": str(keydir / "join.key"), "ELYSIUM_LOG_LEVEL": args.log_level}
    try:
        settings = config.load(MatchmakerSettings, environ=env, match_interval_s=0.25)
        out: dict[str, Any] = {"load_average_at_start": os.getloadavg()[0]}
        parts = set(args.parts.split(","))
        if "intake" in parts:
            signer = tokens.Signer(tokens.load_private_key(path=str(keydir / "player.key")), "bench")
            out.update(await intake_parts(env, signer, redis_child.url, redis_child.proc.pid, args))
        flush = aioredis.from_url(redis_child.url)
        runs = []
        for _ in range(args.repeat if "queue" in parts else 0):
            await flush.flushall()
            runs.append(await match_full_queue(settings, args.tickets))
            print(json.dumps({"match_full_queue": runs[-1]}), flush=True)
        if runs:
            out["match_full_queue"] = {"runs": runs, "median_s": statistics.median(r["seconds"] for r in runs)}
        await flush.flushall()
        if "steady" in parts:
            out["steady"] = await steady(settings, args.rate, args.steady_s)
        await flush.aclose()
        out["load_average_at_end"] = os.getloadavg()[0]
        print(json.dumps(out), flush=True)
    finally:
        redis_child.stop()
        mongo_child.stop()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())
