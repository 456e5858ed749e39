"""Modes on a running game server: a broken mode's room ends alone, join choices, other modes' inputs."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import redis.asyncio as aioredis

from elysium import keys, redisreply
from elysium.results import MatchResult
from gameserver.client import GameClient
from gameserver.modes.arena import Arena
from tests.gameserver.conftest import url
from tests.gameserver.test_mode_hooks import Hooked
from tests.modes.broken import Fragile
from tests.waiting import until

MODES: dict[str, Any] = {"arena": Arena, "fragile": Fragile, "hooked": Hooked}


async def results(redis_url: str) -> dict[str, MatchResult]:
    client = aioredis.from_url(redis_url)
    try:
        entries = redisreply.stream_entries(await client.xrange(keys.RESULTS_STREAM))
    finally:
        await client.aclose()
    return {r.match_id: r for r in (MatchResult.from_entry(f) for _, f in entries)}


async def test_a_broken_mode_ends_its_own_room_while_the_server_and_other_rooms_tick_on(
        server_factory: Any, cleanup_servers: None, mint: Any, redis_url: str,
        caplog: pytest.LogCaptureFixture) -> None:
    server = await server_factory(modes=MODES)
    broken = [GameClient(url(server)) for _ in range(2)]
    healthy = [GameClient(url(server)) for _ in range(2)]
    with caplog.at_level(logging.ERROR, logger="gameserver.room"):
        for i, c in enumerate(broken):
            await c.join(mint(f"b{i}", "broken", mode="fragile", seats=2, teams=2, options={"explode_at": 10}))
        for i, c in enumerate(healthy):
            await c.join(mint(f"h{i}", "healthy", seats=2, time_limit_s=60))

        async def broken_over() -> bool:
            await broken[0].send_row(1)
            await broken[0].recv(2.0)
            return broken[0].result is not None

        await until(broken_over, timeout_s=20, what="the broken room's end")
        assert broken[0].result is not None and broken[0].result["reason"] == "error"
        # The arena room goes on ticking: its deltas keep coming, its match keeps running.
        first = (await healthy[0].expect("delta"))["n"]
        for _ in range(20):
            await healthy[0].send_input(1.0, 0.0, 0.0, False)
            await healthy[0].expect("delta")
        assert (await healthy[0].expect("delta"))["n"] >= first + 20
        assert server.rooms["healthy"].state.value == "running"
        found = await until(lambda: _with(results(redis_url), "broken"), timeout_s=10, what="the error result")
    assert found.reason == "error" and found.mode == "fragile" and len(found.players) == 2
    assert any(r.getMessage().startswith("game mode raised") and r.exc_info for r in caplog.records)
    for c in (*broken, *healthy):
        await c.close()


async def _with(pending: Any, match_id: str) -> MatchResult | None:
    found: dict[str, MatchResult] = await pending
    return found.get(match_id)


async def test_a_mode_that_cannot_make_a_room_refuses_that_join_only(
        server_factory: Any, cleanup_servers: None, mint: Any) -> None:
    server = await server_factory(modes=MODES)
    first = GameClient(url(server))
    answer = await first.join(mint("x", "doomed", mode="fragile", seats=2, teams=2, options={"explode_in_init": True}))
    assert answer == {"t": "error", "code": "room_closed", "msg": "the game mode could not start this match"}
    assert "doomed" not in server.rooms and not server.scheduler.grid.clocks
    second = GameClient(url(server))
    assert (await second.join(mint("y", "fine", seats=2)))["t"] == "welcome"  # the server goes on
    for c in (first, second):
        await c.close()


async def test_a_join_choice_is_checked_and_a_refusal_changes_nothing(
        server_factory: Any, cleanup_servers: None, mint: Any) -> None:
    server = await server_factory(modes=MODES)
    a, b, c = (GameClient(url(server)) for _ in range(3))
    room = {"mode": "hooked", "seats": 2, "teams": 2}
    welcome = await a.join(mint("a", "pick", **room), choice={"side": "south"})
    assert welcome["t"] == "welcome" and welcome["team"] == 1
    refused = await b.join(mint("b", "pick", **room), choice={"side": "south"})
    assert refused == {"t": "error", "code": "join_rejected", "msg": "the south end is taken"}
    bad = await c.join(mint("c", "pick", **room), choice={"side": "west"})
    assert bad["code"] == "join_rejected" and bad["msg"].startswith("choice.side must be one of north, south")
    assert server.rooms["pick"].players == 1
    b2 = GameClient(url(server))
    assert (await b2.join(mint("b", "pick", **room), choice={"side": "north"}))["team"] == 0
    for client in (a, b, c, b2):
        await client.close()


async def test_a_room_claim_outside_the_modes_declaration_is_refused(
        server_factory: Any, cleanup_servers: None, mint: Any) -> None:
    server = await server_factory(modes=MODES)
    cases = [({"mode": "fragile", "seats": 2, "teams": 0}, "room.teams must be between 2 and 2 for mode fragile"),
             ({"mode": "arena", "seats": 2, "options": {"score_limit": 0}},
              "room.options.score_limit must be an integer between 1 and 1000"),
             ({"mode": "arena", "seats": 2, "options": {"rope_m": 3}}, "room.options.rope_m is not an option"),
             ({"mode": "arena", "seats": 2, "score_limit": 5000}, "room.options.score_limit must be an integer")]
    for i, (room, words) in enumerate(cases):
        client = GameClient(url(server))
        answer = await client.join(mint(f"p{i}", f"claim-{i}", **room))
        assert answer["t"] == "error" and answer["code"] == "token_rejected", answer
        assert answer["msg"].startswith(words), answer
        await client.close()
    assert not server.rooms
    await asyncio.sleep(0)
