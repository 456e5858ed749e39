"""A ban reaches the matchmaker: the banned player's ticket ends, they leave their party, and
every request with their token is refused. Bans are published as commerce publishes them
(``elysium.moderation.publish``); the full path through commerce is tests/test_moderation_e2e.py."""

from __future__ import annotations

import time
from typing import Any

import redis.asyncio as aioredis

from elysium import moderation
from elysium.moderation import ModerationEvent
from matchmaker import keys
from tests.matchmaker.conftest import services
from tests.waiting import until

REGIONS = {"local": 20}


def ban(player: str) -> ModerationEvent:
    return ModerationEvent("ban", player, None, f"mod_{player}", int(time.time() * 1000))


async def create(mm: Any, headers: dict[str, str], **body: Any) -> Any:
    return await mm.post("/v1/tickets", json={"mode": "arena", "regions": REGIONS, **body}, headers=headers)


async def status_of(mm: Any, headers: dict[str, str], ticket_id: str) -> dict[str, Any]:
    resp = await mm.get(f"/v1/tickets/{ticket_id}", headers=headers)
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def watching(mm: Any) -> None:
    await until(lambda: services(mm).moderation.ready.is_set(), what="the moderation watch loaded")


async def test_a_ban_ends_the_players_ticket_and_refuses_their_token(mm: Any, auth: Any,
                                                                     rclient: aioredis.Redis) -> None:
    await watching(mm)
    ticket = await (await create(mm, auth("cheater"))).json()
    other = await (await create(mm, auth("honest"))).json()
    await moderation.publish(rclient, ban("cheater"))

    async def ended() -> bool:
        return await rclient.hget(keys.ticket(ticket["id"]), "status") == b"cancelled"

    await until(ended, what="the banned player's ticket cancelled")
    assert await rclient.hget(keys.ticket(ticket["id"]), "reason") == b"banned"
    assert not await rclient.exists(keys.player("cheater"))
    assert await rclient.zscore(keys.queue("arena"), ticket["id"]) is None
    assert (await status_of(mm, auth("honest"), other["id"]))["status"] == "queued"  # nobody else's
    for method, path in (("GET", f"/v1/tickets/{ticket['id']}"), ("POST", "/v1/tickets"), ("POST", "/v1/parties"),
                         ("GET", "/v1/players/me/ratings")):
        resp = await mm.request(method, path, headers=auth("cheater"), json={"mode": "arena", "regions": REGIONS})
        problem = await resp.json()
        assert resp.status == 403 and problem["code"] == "account-banned", (path, problem)
        assert resp.content_type == "application/problem+json"


async def test_a_banned_member_leaves_the_party_and_its_queued_ticket_ends(mm: Any, auth: Any,
                                                                           rclient: aioredis.Redis) -> None:
    await watching(mm)
    code = (await (await mm.post("/v1/parties", headers=auth("lead"))).json())["code"]
    assert (await mm.post(f"/v1/parties/{code}/members", headers=auth("mate"))).status == 200
    ticket = await (await create(mm, auth("lead"), party=code)).json()
    await moderation.publish(rclient, ban("mate"))

    async def left() -> bool:
        return not await rclient.exists(keys.member("mate"))

    await until(left, what="the banned member out of the party")
    party = await (await mm.get(f"/v1/parties/{code}", headers=auth("lead"))).json()
    assert [m["id"] for m in party["members"]] == ["lead"]
    after = await status_of(mm, auth("lead"), ticket["id"])
    assert after["status"] == "cancelled" and after["reason"] == "banned"
    assert (await create(mm, auth("lead"), party=code)).status == 201  # the rest may queue again


async def test_a_banned_leader_disbands_the_party(mm: Any, auth: Any, rclient: aioredis.Redis) -> None:
    await watching(mm)
    code = (await (await mm.post("/v1/parties", headers=auth("boss"))).json())["code"]
    assert (await mm.post(f"/v1/parties/{code}/members", headers=auth("pal"))).status == 200
    await moderation.publish(rclient, ban("boss"))

    async def disbanded() -> bool:
        return not await rclient.exists(keys.party(code), keys.member("pal"), keys.member("boss"))

    await until(disbanded, what="the party disbanded")


async def test_a_ban_made_while_no_matchmaker_ran_is_handled_at_start(mm_factory: Any, auth: Any,
                                                                       rclient: aioredis.Redis) -> None:
    first = await mm_factory()
    ticket = await (await create(first, auth("sleeper"))).json()
    await first.close()
    await moderation.publish(rclient, ban("sleeper"))
    await mm_factory()

    async def ended() -> bool:
        return await rclient.hget(keys.ticket(ticket["id"]), "reason") == b"banned"

    await until(ended, what="the ticket ended by the start-up resync")


async def test_a_ban_the_watch_has_not_seen_yet_still_stops_queueing(mm: Any, auth: Any,
                                                                      rclient: aioredis.Redis) -> None:
    """Ticket creation asks Redis itself: a ban written without its event (as a start-up repair
    writes it) is not in the watch, and still refuses the banned player and their party."""
    await watching(mm)
    code = (await (await mm.post("/v1/parties", headers=auth("chief"))).json())["code"]
    assert (await mm.post(f"/v1/parties/{code}/members", headers=auth("shady"))).status == 200
    await moderation.set_state(rclient, "ban", "shady", None, True)
    await moderation.set_state(rclient, "ban", "loner", None, True)
    assert not services(mm).moderation.banned("shady")
    refused = await create(mm, auth("loner"))
    assert refused.status == 403 and (await refused.json())["code"] == "account-banned"
    party = await create(mm, auth("chief"), party=code)
    problem = await party.json()
    assert party.status == 409 and problem["code"] == "party-member-banned" and problem["player"] == "shady"
    assert not await rclient.exists(keys.player("chief"), keys.player("loner"))


async def test_readiness_waits_for_the_ban_list(mm: Any) -> None:
    await watching(mm)
    body = await (await mm.get("/readyz")).json()
    assert body["bans_loaded"] is True
