"""Several replicas matching one Redis at once, and a large run that must leave no keys behind."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from typing import Any

import redis.asyncio as aioredis

from elysium import redisreply
from matchmaker import keys
from matchmaker.tickets import NewTicket, TicketQueue
from tests.matchmaker.conftest import fake_server, services
from tests.waiting import until


def new_ticket(i: int, mode: str, *, created_ms: int, rng: random.Random, region: str = "local",
               spread: float = 4.0) -> NewTicket:
    return NewTicket(uuid.uuid4().hex, mode, f"p{i}", "", "",
                     ({"id": f"p{i}", "name": f"p{i}", "rating": round(rng.gauss(25, spread), 3)},),
                     ((region, 20.0),), False, created_ms)


async def create_many(queue: TicketQueue, tickets: list[NewTicket], chunk: int = 500) -> None:
    for k in range(0, len(tickets), chunk):
        results = await asyncio.gather(*(queue.create(t) for t in tickets[k:k + chunk]))
        assert all(r.created for r in results)


async def all_tickets(client: aioredis.Redis) -> list[dict[str, str]]:
    out = []
    async for key in client.scan_iter(match=keys.ticket("*"), count=1000):
        fields = redisreply.text_map(await client.hgetall(key))
        if fields:
            out.append(fields)
    return out


async def test_replicas_never_place_a_ticket_in_two_matches(mm_factory: Any, rclient: aioredis.Redis) -> None:
    replicas = [await mm_factory() for _ in range(4)]
    for n in range(3):
        await fake_server(rclient, f"gs-{n}", seats_free=1000, rooms_free=1000)
    rng = random.Random(3)
    now = int(time.time() * 1000)
    tickets = [new_ticket(i, "arena", created_ms=now - rng.randint(0, 40_000), rng=rng) for i in range(3000)]
    queue = services(replicas[0]).queue
    await create_many(queue, tickets[:1500])

    stop = asyncio.Event()

    async def replica_loop(client: Any) -> int:
        formed = 0
        while not stop.is_set():
            formed += (await services(client).matcher.run_pass()).matches
            await asyncio.sleep(0)
        return formed

    async def players() -> set[str]:
        # More tickets arrive and some are cancelled while the replicas match.
        await create_many(queue, tickets[1500:], chunk=100)
        cancelled = set()
        for t in rng.sample(tickets, 400):
            ticket = await queue.get(t.ticket_id)
            if ticket and await queue.cancel(ticket, now_ms=int(time.time() * 1000)) == "ok":
                cancelled.add(t.ticket_id)
        return cancelled

    loops = [asyncio.create_task(replica_loop(c)) for c in replicas]
    cancelled = await players()
    for _ in range(200):
        if not await rclient.exists(keys.queue("arena"), keys.FORMING):
            break
        await asyncio.sleep(0.05)
    stop.set()
    formed = await asyncio.gather(*loops)
    assert sum(formed) > 500 and sum(1 for f in formed if f) >= 2  # several replicas really took part

    by_match: dict[str, dict[str, Any]] = {}
    placed: dict[str, str] = {}
    for t in await all_tickets(rclient):
        if t["status"] == "matched":
            match = json.loads(t["match"])
            assert t["id"] not in placed, "a ticket landed in two matches"
            placed[t["id"]] = match["match_id"]
            by_match.setdefault(match["match_id"], match)
            roster = [pid for pid, _ in match["room"]["roster"]]
            assert [p["id"] for p in json.loads(t["players"])][0] in roster
        else:
            assert t["status"] in ("cancelled", "queued"), t["status"]
    assert not set(placed) & cancelled
    seen: dict[str, str] = {}
    for match_id, match in by_match.items():
        assert len(match["room"]["roster"]) == 4
        for pid, _ in match["room"]["roster"]:
            assert pid not in seen, f"{pid} is in {seen.get(pid)} and {match_id}"
            seen[pid] = match_id
    assert len(placed) == len(seen) == 4 * len(by_match)
    # No server was promised more seats than it had.
    for n in range(3):
        book = redisreply.blob_map(await rclient.hgetall(keys.seat_book(f"gs-{n}")))
        claimed = [int(v.split(b"|")[0]) for k, v in book.items() if not k.startswith(b"_")]
        assert sum(claimed) == int(book.get(b"_seats", 0)) <= 1000


async def test_ten_thousand_tickets_leave_no_keys_behind(mm_factory: Any, rclient: aioredis.Redis) -> None:
    mm = await mm_factory(ticket_ttl_s=30.0, ticket_retention_s=1.0, seat_hold_s=1.0, stats_window_s=1.0,
                          forming_timeout_s=1.0)
    svc = services(mm)
    await fake_server(rclient, "gs-big", seats_free=100_000, rooms_free=20_000, ttl_s=600)
    await svc.consumer.ensure_group()
    start = await rclient.dbsize()
    rng = random.Random(5)
    now = int(time.time() * 1000)
    # Close ratings, so that every one of them is matched right away.
    matched = [new_ticket(i, "arena", created_ms=now, rng=rng, spread=0.5) for i in range(8500)]
    to_cancel = [new_ticket(10_000 + i, "arena", created_ms=now, rng=rng, region="nowhere") for i in range(800)]
    to_expire = [new_ticket(20_000 + i, "duel", created_ms=now - 31_000, rng=rng, region="nowhere")
                 for i in range(700)]
    await create_many(svc.queue, matched + to_cancel + to_expire)
    assert await rclient.dbsize() > start + 10_000
    # Every key the matchmaker wrote either expires or is one of the indexes emptied by clean-up.
    cleaned = {keys.FORMING} | {f(m) for m in ("arena", "duel") for f in (keys.queue, keys.waiting, keys.entries)}
    written = [k async for k in rclient.scan_iter(match=keys.PREFIX + "*", count=2000)]
    async with rclient.pipeline(transaction=False) as pipe:
        for key in written:
            pipe.pttl(key)
        ttls = await pipe.execute()
    assert len(written) > 10_000
    for key, ttl in zip(written, ttls, strict=True):
        assert key.decode() in cleaned or ttl > 0, key
    # A party comes and goes as well.
    code = (await svc.parties.create("party-lead", "lead", now))[1]
    assert await svc.parties.join(code, "party-mate", "mate") == "ok"
    for t in to_cancel:
        ticket = await svc.queue.get(t.ticket_id)
        assert ticket is not None and await svc.queue.cancel(ticket, now_ms=now) == "ok"
    await fake_server(rclient, "gs-big", seats_free=100_000, rooms_free=20_000, ttl_s=600)  # a fresh heartbeat
    total = 0
    for _ in range(20):
        report = await svc.matcher.run_pass()
        total += report.matches
        if not await rclient.exists(keys.queue("arena"), keys.queue("duel")):
            break
    assert total == 8500 // 4 and not await rclient.exists(keys.queue("arena"))
    assert await svc.parties.leave(code, "party-lead") == "disbanded"

    async def back_to_start() -> bool:  # once retention, seat holds and the statistics window are over
        async for _ in rclient.scan_iter(count=5000):  # visiting keys lets Redis drop the expired ones
            pass
        return bool(await rclient.dbsize() == start)

    await until(back_to_start, 10.0, interval_s=0.2, what="every key the run made expiring")
