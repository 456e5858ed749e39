"""Matching passes against real Redis: allocation, seat claims, cancels mid-way, expiry, events."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from elysium import keys as shared_keys
from elysium import redisreply, tokens
from matchmaker import keys
from matchmaker.core import Proposal
from tests.matchmaker.conftest import fake_server, services

REGIONS = {"local": 20}


def now_ms() -> int:
    return int(time.time() * 1000)


async def queue_players(mm: Any, auth: Any, players: list[str], mode: str = "arena",
                        regions: dict[str, float] | None = None) -> list[str]:
    ids = []
    for p in players:
        resp = await mm.post("/v1/tickets", json={"mode": mode, "regions": regions or REGIONS}, headers=auth(p))
        assert resp.status == 201, await resp.text()
        ids.append((await resp.json())["id"])
    return ids


async def test_a_pass_forms_a_match_and_players_get_join_tokens(mm: Any, auth: Any, rclient: aioredis.Redis,
                                                                keys_dir: Any) -> None:
    await fake_server(rclient, "gs-a", seats_free=40)
    ids = await queue_players(mm, auth, ["p1", "p2", "p3", "p4", "p5"])
    report = await services(mm).matcher.run_pass()
    assert report.matches == 1 and report.players == 4
    views = [await (await mm.get(f"/v1/tickets/{t}", headers=auth(p))).json()
             for t, p in zip(ids, ["p1", "p2", "p3", "p4", "p5"], strict=True)]
    matched = [v for v in views if v["status"] == "matched"]
    assert len(matched) == 4 and views[4]["status"] == "queued"  # the newest waits for more players
    verifier = tokens.Verifier(tokens.load_public_key(path=str(keys_dir / "join.pub")))
    match_ids = set()
    for v in matched:
        m = v["match"]
        claims = verifier.verify(m["join_token"], tokens.JOIN_AUDIENCE, max_ttl_s=60)
        assert claims["sub"] == v["players"][0] and claims["srv"] == "gs-a" and claims["mid"] == m["match_id"]
        assert claims["room"]["mode"] == "arena" and claims["room"]["seats"] == 4
        assert sorted(pid for pid, _ in claims["room"]["roster"]) == ["p1", "p2", "p3", "p4"]
        assert m["address"] == "ws://127.0.0.1:1/gs-a" and len(m["match_id"]) <= 64
        match_ids.add(m["match_id"])
    assert len(match_ids) == 1
    # The seats are claimed on the server until the room shows up (or the claim expires).
    assert redisreply.texts(await rclient.zrange(keys.seats("gs-a"), 0, -1)) == [match_ids.pop()]
    assert await rclient.hmget(keys.seat_book("gs-a"), "_seats", "_rooms") == [b"4", b"1"]
    assert 0 < await rclient.pttl(keys.seats("gs-a")) <= 90_000
    assert 0 < await rclient.pttl(keys.seat_book("gs-a")) <= 90_000
    queues = await (await mm.get("/v1/queues")).json()
    arena = next(m for m in queues["modes"] if m["mode"] == "arena")
    assert arena["players_waiting"] == 1 and arena["recent_matched_tickets"] == 4 and arena["wait_p50_s"] >= 0
    assert (await services(mm).matcher.run_pass()).matches == 0


async def test_servers_that_cannot_host_are_skipped(mm: Any, auth: Any, rclient: aioredis.Redis) -> None:
    await queue_players(mm, auth, ["a", "b", "c", "d"])
    await fake_server(rclient, "draining", draining=True)
    await fake_server(rclient, "stale", age_ms=60_000)
    await fake_server(rclient, "far", region="elsewhere")
    await fake_server(rclient, "other-game", modes=("racing",))
    await fake_server(rclient, "tiny", seats_free=3)
    report = await services(mm).matcher.run_pass()
    assert report.matches == 0
    assert await rclient.zcard(keys.queue("arena")) == 4
    await fake_server(rclient, "good")
    assert (await services(mm).matcher.run_pass()).matches == 1


async def test_seat_claims_never_overfill_a_server(mm_factory: Any, auth: Any, rclient: aioredis.Redis) -> None:
    a, b = await mm_factory(), await mm_factory()
    await fake_server(rclient, "gs-small", seats_free=8, rooms_free=10)
    await queue_players(a, auth, [f"p{i}" for i in range(20)])
    reports = await asyncio.gather(services(a).matcher.run_pass(), services(b).matcher.run_pass())
    assert sum(r.matches for r in reports) == 2
    assert await rclient.hmget(keys.seat_book("gs-small"), "_seats", "_rooms") == [b"8", b"2"]
    assert (await services(a).matcher.run_pass()).matches == 0


async def test_seats_come_back_when_players_never_arrive(mm_factory: Any, auth: Any, rclient: aioredis.Redis) -> None:
    mm = await mm_factory(seat_hold_s=1.0)
    await fake_server(rclient, "gs-a", seats_free=4)
    await queue_players(mm, auth, [f"p{i}" for i in range(8)])
    assert (await services(mm).matcher.run_pass()).matches == 1
    assert (await services(mm).matcher.run_pass()).matches == 0  # the server is promised out
    later = now_ms() + 1_100  # past the seat hold, on the matcher's clock
    await fake_server(rclient, "gs-a", seats_free=4)  # a fresh heartbeat: still no room was created
    assert (await services(mm).matcher.run_pass(now_ms=later)).matches == 1


async def test_a_ticket_cancelled_while_its_match_forms_is_in_no_match(mm: Any, auth: Any,
                                                                       rclient: aioredis.Redis) -> None:
    svc = services(mm)
    ids = await queue_players(mm, auth, ["a", "b"], mode="duel")
    prop = Proposal("duel", "local", tuple(ids), (("a", 0), ("b", 0)), 0.0, 0)
    assert await svc.queue.claim([("duel.m1", prop)]) == [True]
    assert await svc.queue.claim([("duel.m2", prop)]) == [False]  # another replica loses the race
    cancelled = await mm.delete(f"/v1/tickets/{ids[0]}", headers=auth("a"))
    assert cancelled.status == 200 and (await cancelled.json())["status"] == "cancelled"
    assert await svc.queue.assign([("duel.m1", prop, {"match_id": "duel.m1"})], int(time.time() * 1000)) == [False]
    assert await svc.queue.release([("duel.m1", "duel", ids)]) == 1
    b = await (await mm.get(f"/v1/tickets/{ids[1]}", headers=auth("b"))).json()
    a = await (await mm.get(f"/v1/tickets/{ids[0]}", headers=auth("a"))).json()
    assert b["status"] == "queued" and "match" not in b
    assert a["status"] == "cancelled" and "match" not in a
    assert await rclient.zrange(keys.queue("duel"), 0, -1) == [ids[1].encode()]
    assert await rclient.zcard(keys.FORMING) == 0


async def test_tickets_a_dead_replica_left_forming_are_queued_again(mm_factory: Any, auth: Any,
                                                                    rclient: aioredis.Redis) -> None:
    mm = await mm_factory(forming_timeout_s=30.0)
    svc = services(mm)
    ids = await queue_players(mm, auth, ["a", "b"], mode="duel")
    prop = Proposal("duel", "local", tuple(ids), (("a", 0), ("b", 0)), 0.0, 0)
    assert await svc.queue.claim([("duel.dead", prop)]) == [True]  # ... and the replica dies here
    assert await rclient.zcard(keys.queue("duel")) == 0
    assert (await svc.matcher.run_pass()).requeued == 0  # not overdue yet
    report = await svc.matcher.run_pass(now_ms=now_ms() + 30_100)  # no server: the tickets just go back
    assert report.requeued == 2
    assert await rclient.zcard(keys.queue("duel")) == 2 and await rclient.zcard(keys.FORMING) == 0


async def test_tickets_expire_and_events_report_it(mm_factory: Any, auth: Any, rclient: aioredis.Redis,
                                                   player_token: Any) -> None:
    mm = await mm_factory(ticket_ttl_s=30.0)
    (ticket_id,) = await queue_players(mm, auth, ["slow"])
    url = f"/v1/tickets/{ticket_id}/events?access_token={player_token('slow')}"
    resp = await mm.get(url)
    assert resp.status == 200 and resp.headers["Content-Type"] == "text/event-stream"
    first = await _next_event(resp)
    assert first[0] == "queued"
    assert (await services(mm).matcher.run_pass()).expired == 0
    report = await services(mm).matcher.run_pass(now_ms=now_ms() + 30_050)  # past the ticket ttl
    assert report.expired == 1
    event, data = await _next_event(resp)
    assert event == "expired" and data["reason"] == "expired"
    assert not await rclient.exists(keys.player("slow"), keys.queue("arena"), keys.waiting("arena"))
    resp.close()


async def test_event_stream_delivers_the_match(mm: Any, auth: Any, rclient: aioredis.Redis) -> None:
    await fake_server(rclient, "gs-a")
    ids = await queue_players(mm, auth, ["x1", "x2"], mode="duel")
    resp = await mm.get(f"/v1/tickets/{ids[0]}/events", headers=auth("x1"))
    assert (await _next_event(resp))[0] == "queued"
    await services(mm).events.ready.wait()
    await services(mm).matcher.run_pass()
    event, data = await _next_event(resp)
    assert event == "matched" and data["match"]["server_id"] == "gs-a" and data["match"]["join_token"]
    assert (await resp.content.read()).strip() == b""  # the stream ends after a final status
    foreign = await mm.get(f"/v1/tickets/{ids[0]}/events", headers=auth("x2"))
    assert foreign.status == 403


async def _next_event(resp: aiohttp.ClientResponse) -> tuple[str, dict[str, Any]]:
    event = ""
    while True:
        line = (await asyncio.wait_for(resp.content.readline(), 10)).decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            return event, json.loads(line[6:])


async def test_a_room_that_appeared_releases_its_claim(mm: Any, auth: Any, rclient: aioredis.Redis) -> None:
    await fake_server(rclient, "gs-a", seats_free=4)
    await queue_players(mm, auth, [f"p{i}" for i in range(8)])
    assert (await services(mm).matcher.run_pass()).matches == 1
    match_id = redisreply.texts(await rclient.zrange(keys.seats("gs-a"), 0, -1))[0]
    # The game server created the room and its next heartbeat counts it (4 seats used of 8).
    created_us = int(time.time() * 1e6) - 2_000  # a heartbeat taken after the room was created
    await rclient.hset(shared_keys.match_info(match_id), "started_at_us", json.dumps(created_us))
    await fake_server(rclient, "gs-a", seats_free=4)
    assert (await services(mm).matcher.run_pass()).matches == 1


async def test_pack_fills_the_fullest_server_and_spread_the_emptiest(mm_factory: Any, auth: Any,
                                                                     rclient: aioredis.Redis) -> None:
    await fake_server(rclient, "roomy", seats_free=100)
    await fake_server(rclient, "snug", seats_free=10)
    packer = await mm_factory(allocation="pack")
    spreader = await mm_factory(allocation="spread")
    ids = await queue_players(packer, auth, ["a1", "a2"], mode="duel")
    await services(packer).matcher.run_pass()
    first = await (await packer.get(f"/v1/tickets/{ids[0]}", headers=auth("a1"))).json()
    assert first["match"]["server_id"] == "snug"
    ids = await queue_players(spreader, auth, ["b1", "b2"], mode="duel")
    await services(spreader).matcher.run_pass()
    second = await (await spreader.get(f"/v1/tickets/{ids[0]}", headers=auth("b1"))).json()
    assert second["match"]["server_id"] == "roomy"


async def test_a_draining_replica_takes_no_tickets(mm: Any, auth: Any, rclient: aioredis.Redis) -> None:
    services(mm).draining = True
    before = await rclient.dbsize()
    resp = await mm.post("/v1/tickets", json={"mode": "arena", "regions": REGIONS}, headers=auth("late"))
    assert resp.status == 503 and (await resp.json())["type"] == "urn:elysium:problem:draining"
    assert (await mm.get("/readyz")).status == 503
    assert await rclient.dbsize() == before


async def test_a_queued_party_lands_on_one_team(mm: Any, auth: Any, rclient: aioredis.Redis) -> None:
    await fake_server(rclient, "gs-a")
    code = (await (await mm.post("/v1/parties", headers=auth("lead"))).json())["code"]
    assert (await mm.post(f"/v1/parties/{code}/members", headers=auth("mate"))).status == 200
    party = await mm.post("/v1/tickets", json={"mode": "squads", "regions": REGIONS, "party": code},
                          headers=auth("lead"))
    assert party.status == 201
    await queue_players(mm, auth, ["s1", "s2", "s3", "s4"], mode="squads")
    assert (await services(mm).matcher.run_pass()).matches == 1
    view = await (await mm.get(f"/v1/tickets/{(await party.json())['id']}", headers=auth("mate"))).json()
    roster = dict(view["match"]["roster"])
    assert len(roster) == 6 and roster["lead"] == roster["mate"] == view["match"]["team"]
    assert sorted(list(roster.values()).count(t) for t in (0, 1)) == [3, 3]
    seen = await (await mm.get(f"/v1/parties/{code}", headers=auth("mate"))).json()
    assert seen["ticket"]["status"] == "matched"
