"""In-queue presence follows the ticket through the real app: created, cancelled, matched, expired."""

from __future__ import annotations

import time
from typing import Any

import redis.asyncio as aioredis

from elysium import keys as shared_keys
from elysium import presence
from elysium.presence import State
from tests.matchmaker.conftest import fake_server, services
from tests.matchmaker.test_matching import queue_players


async def _state(rclient: aioredis.Redis, player: str) -> State:
    return (await presence.read(rclient, player)).state


async def test_a_ticket_shows_its_players_in_the_queue_until_it_is_cancelled(mm: Any, auth: Any,
                                                                             rclient: aioredis.Redis) -> None:
    [ticket] = await queue_players(mm, auth, ["alice"])
    assert await _state(rclient, "alice") == State.IN_QUEUE
    ttl = await rclient.ttl(shared_keys.presence("alice", "in_queue"))
    settings = services(mm).settings
    assert 0 < ttl <= settings.ticket_ttl_s + settings.forming_timeout_s + settings.ticket_retention_s
    refused = await mm.delete(f"/v1/tickets/{ticket}", headers=auth("mallory"))
    assert refused.status == 403 and await _state(rclient, "alice") == State.IN_QUEUE
    assert (await mm.delete(f"/v1/tickets/{ticket}", headers=auth("alice"))).status == 200
    assert await _state(rclient, "alice") == State.OFFLINE


async def test_matched_players_leave_the_queue_and_the_rest_stay(mm: Any, auth: Any, rclient: aioredis.Redis) -> None:
    await fake_server(rclient, "gs-a", seats_free=40)
    players = ["p1", "p2", "p3", "p4", "p5"]
    await queue_players(mm, auth, players)
    assert (await services(mm).matcher.run_pass()).matches == 1
    seen = await presence.read_many(rclient, players)
    assert [seen[p].state for p in players] == [State.OFFLINE] * 4 + [State.IN_QUEUE]


async def test_an_expired_ticket_leaves_the_queue(mm: Any, auth: Any, rclient: aioredis.Redis) -> None:
    await queue_players(mm, auth, ["bob"])
    svc = services(mm)
    expired, _ = await svc.queue.sweep(["arena"], int(time.time() * 1000) + int(svc.settings.ticket_ttl_s * 1000)
                                       + 1000)
    assert expired == 1 and await _state(rclient, "bob") == State.OFFLINE
