"""The chat channels of parties and custom games follow them: their members are the party's or the
game's, and they close with them."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from elysium import chat
from tests.matchmaker.test_games import act, host, join, server


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


async def test_game_channel_members_follow_the_game(mm: Any, auth: Any, rclient: aioredis.Redis) -> None:
    await server(rclient)
    code = (await host(mm, auth, seats=4))["code"]
    ch = chat.game_channel(code)
    assert await chat.members(rclient, ch) == {"alice"}
    for player in ("bob", "carol"):
        await join(mm, auth, code, player)
    await join(mm, auth, code, "bob")  # already seated: no change
    assert await chat.members(rclient, ch) == {"alice", "bob", "carol"}
    await act(mm, auth, code, "kick", "alice", body={"player": "carol"})
    assert await chat.members(rclient, ch) == {"alice", "bob"}
    await act(mm, auth, code, "leave", "bob")
    await act(mm, auth, code, "leave", "erin", expect=403)
    assert await chat.members(rclient, ch) == {"alice"}
    await act(mm, auth, code, "leave", "alice")  # the last one: the game ends
    assert not await rclient.exists(chat.members_key(ch))
