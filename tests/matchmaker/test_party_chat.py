"""A party's chat channel follows the party: its members are the party's, and it closes with it."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from elysium import chat


async def test_party_channel_members_follow_the_party(mm: Any, auth: Any, rclient: aioredis.Redis) -> None:
    code = (await (await mm.post("/v1/parties", headers=auth("lead"))).json())["code"]
    ch = chat.party_channel(code)
    assert await chat.members(rclient, ch) == {"lead"}
    assert 0 < await rclient.ttl(chat.members_key(ch)) <= 3600 * 24
    await mm.post(f"/v1/parties/{code}/members", headers=auth("friend"))
    await mm.post(f"/v1/parties/{code}/members", headers=auth("other"))
    assert await chat.members(rclient, ch) == {"lead", "friend", "other"}
    missing = await mm.post("/v1/parties/NOSUCH/members", headers=auth("stray"))
    assert missing.status == 404 and not await chat.is_member(rclient, chat.party_channel("NOSUCH"), "stray")
    await mm.delete(f"/v1/parties/{code}/members/me", headers=auth("friend"))
    assert await chat.members(rclient, ch) == {"lead", "other"}
    await mm.delete(f"/v1/parties/{code}/members/me", headers=auth("lead"))  # disbands
    assert not await rclient.exists(chat.members_key(ch), chat.history_key(ch))
