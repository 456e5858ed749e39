"""A real game server, real players, real Redis and real websocket spectators.

The state every spectator rebuilds (from the start, joining late, delayed, and replaying
after the end) must equal what the players saw at the same tick.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from websockets.exceptions import ConnectionClosed

from elysium import keys, redisreply
from gameserver.client import GameClient
from spectator.client import SpectatorClient
from tests.spectator.conftest import record, state_of, watch_url
from tests.gameserver.conftest import url
from tests.waiting import until

MATCH = "spec-duel"


def normalised(state: dict[str, Any]) -> dict[str, Any]:
    # A player's first keyframe lists every seat's ack, -1 included; a feed starting from
    # nothing only names a seat once it has one.
    return {**state, "acks": {seat: seq for seat, seq in state["acks"].items() if seq != -1}}


async def wait_for_info(redis_url: str, match_id: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        for _ in range(200):
            if await client.exists(keys.match_info(match_id)):
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the match was never described")
    finally:
        await client.aclose()


async def play(client: GameClient, states: dict[int, dict[str, Any]], seed: int) -> None:
    rng = random.Random(seed)
    while client.result is None:
        msg = await client.recv(timeout=10)
        record(states, client.replica, msg)
        if msg["t"] == "delta" and msg["n"] % 2 == 0:
            angle = rng.uniform(-math.pi, math.pi)
            await client.send_input(math.cos(angle), math.sin(angle), angle, rng.random() < 0.5)


async def spectate(spectator: SpectatorClient, states: dict[int, dict[str, Any]], observe: Any = None) -> None:
    await spectator.connect()
    await spectator.watch_until_closed(40, observe or (lambda s, m: record(states, s.replica, m)))


def assert_same(players: dict[int, dict[str, Any]], watched: dict[int, dict[str, Any]], at_least: int) -> None:
    common = sorted(set(players) & set(watched))
    assert len(common) >= at_least, (len(common), at_least)
    for tick in common:
        assert normalised(watched[tick]) == normalised(players[tick]), f"tick {tick}"


def ages(spectator: SpectatorClient) -> list[float]:
    return spectator.ages  # type: ignore[attr-defined, no-any-return]


def note_age(states: dict[int, dict[str, Any]]) -> Any:
    def observe(spectator: SpectatorClient, msg: dict[str, Any]) -> None:
        record(states, spectator.replica, msg)
        if msg["t"] == "delta":
            spectator.ages.append(time.time() - msg["ts"] / 1e6)  # type: ignore[attr-defined]
    return observe


async def test_spectators_see_what_players_saw(game_server: Any, relay: Any, relay_factory: Any, mint: Any,
                                               redis_url: str) -> None:
    strict = await relay_factory(relay_id="test-relay-2", mode_min_delays=("arena=1",))
    room = dict(seats=2, min_players=2, score_limit=1000, time_limit_s=5, seed=3)
    a, b = GameClient(url(game_server)), GameClient(url(game_server))
    pa: dict[int, dict[str, Any]] = {}
    pb: dict[int, dict[str, Any]] = {}
    await a.join(mint("alice", MATCH, **room))
    await wait_for_info(redis_url, MATCH)

    early, delayed, late = (SpectatorClient(watch_url(relay, MATCH)),
                            SpectatorClient(watch_url(relay, MATCH, "delay=1.5")),
                            SpectatorClient(watch_url(relay, MATCH)))
    se: dict[int, dict[str, Any]] = {}
    sd: dict[int, dict[str, Any]] = {}
    sl: dict[int, dict[str, Any]] = {}
    competitive = SpectatorClient(watch_url(strict, MATCH, "delay=0"))
    sc: dict[int, dict[str, Any]] = {}
    for s in (delayed, competitive):
        s.ages = []  # type: ignore[attr-defined]
    watching = [asyncio.create_task(spectate(early, se)), asyncio.create_task(spectate(delayed, sd, note_age(sd))),
                asyncio.create_task(spectate(competitive, sc, note_age(sc)))]
    # The spectators are in before the second player arrives.
    await until(lambda: early.hello and delayed.hello and competitive.hello, what="the spectators' hellos")
    await b.join(mint("bob", MATCH, **room))
    playing = [asyncio.create_task(play(a, pa, 1)), asyncio.create_task(play(b, pb, 2))]
    while not pa or max(pa) < 50:  # past the first keyframe (tick 40)
        await asyncio.sleep(0.05)
    watching.append(asyncio.create_task(spectate(late, sl)))
    await asyncio.wait_for(asyncio.gather(*playing), 30)
    await asyncio.wait_for(asyncio.gather(*watching), 30)

    assert a.result is not None
    final_tick = max(pa)
    assert_same(pa, se, at_least=90)
    assert_same(pb, se, at_least=90)
    assert_same(pa, sd, at_least=90)
    assert_same(pa, sl, at_least=30)
    for spectator in (early, delayed, late):
        assert spectator.hello["t"] == "watch" and spectator.hello["live"] is True
        assert spectator.hello["columns"]["motion"] == 3 and spectator.hello["mode"] == "arena"
        # The same declarations a player's welcome carries, from the match's description.
        assert spectator.hello["input"] == a.welcome["input"] and spectator.hello["input"]["row"][0] == "seq"
        assert spectator.hello["options"] == a.welcome["options"] == {"score_limit": 1000, "time_limit_s": 5.0}
        assert spectator.hello["columns"] == a.welcome["columns"]
        assert spectator.end is not None and spectator.close_code == 1000
        assert spectator.end["results"] == a.result["results"] and spectator.end["reason"] == "time"
        assert spectator.replica.tick == final_tick
        assert normalised(state_of(spectator.replica)) == normalised(pa[final_tick])
    # The early spectator started from the feed's first entry: no keyframe before the deltas.
    # (That first tick need not be 0: it depends on when the second join lands against the
    # room's tick grid; the feed and the players agree on it.)
    feed = aioredis.from_url(redis_url)
    try:
        first = redisreply.stream_entries(await feed.xrange(keys.match_feed(MATCH), count=1))
    finally:
        await feed.aclose()
    assert early.kinds[1] in ("delta", "events") and early.ticks[0] == int(first[0][1][b"n"]) == min(pa)
    # The late one started from a keyframe, then got every delta after it, in order.
    assert late.kinds[1] == "keyframe" and late.ticks[0] % 40 == 0
    deltas = [t for k, t in zip(late.kinds[1:], late.ticks, strict=False) if k == "delta"]
    assert deltas == list(range(late.ticks[0] + 1, final_tick + 1))
    # Delays hold (clock jitter aside).
    # A delayed watcher may get a tick up to its bundle window early (two ticks per message); the
    # competitive one, at its mode's minimum, never earlier than that minimum.
    assert delayed.hello["delay_s"] == 1.5 and delayed.hello["bundle_s"] == 0.1
    assert min(ages(delayed)) >= 1.5 - 0.1 - 0.05
    assert competitive.hello["delay_s"] == 1.0 and competitive.hello["min_delay_s"] == 1.0
    assert competitive.hello["bundle_s"] == 0.0
    assert min(ages(competitive)) >= 1.0 - 0.05
    assert_same(pa, sc, at_least=90)

    # A replay after the end, from the start and from a seek, at 8x.
    rs: dict[int, dict[str, Any]] = {}
    replay = SpectatorClient(watch_url(relay, MATCH, "speed=8"))
    await spectate(replay, rs)
    assert replay.hello["live"] is False and replay.hello["from"] == min(pa)  # the feed's first entry
    assert_same(pa, rs, at_least=90)
    assert replay.end is not None and replay.end["results"] == a.result["results"]
    seek: dict[int, dict[str, Any]] = {}
    seeker = SpectatorClient(watch_url(relay, MATCH, "from=61&speed=8"))
    await spectate(seeker, seek)
    assert seeker.hello["from"] == 40 and seeker.kinds[1] == "keyframe" and seeker.ticks[0] == 40
    assert_same(pa, seek, at_least=40)
    assert normalised(state_of(seeker.replica)) == normalised(pa[final_tick])

    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{relay.port}/v1/matches") as resp:
            assert resp.status == 200
            body = await resp.json()
    assert body["live"] == []
    (listed,) = body["replays"]
    assert listed["match_id"] == MATCH and listed["mode"] == "arena" and listed["state"] in ("finished", "disposed")
    assert {p["id"] for p in listed["players"]} == {"alice", "bob"}
    assert listed["watch"] == f"/v1/watch/{MATCH}?from=start"
    await a.close()
    await b.close()


async def test_unknown_match_is_refused_clearly(relay: Any) -> None:
    spectator = SpectatorClient(watch_url(relay, "no-such-match"))
    await spectator.connect()
    msg = await spectator.recv()
    assert msg == {"t": "error", "code": "unknown_match", "msg": "no live or replayable match 'no-such-match'"}
    try:
        await spectator.recv()
        raise AssertionError("the relay kept the stream open")
    except ConnectionClosed:
        pass
    assert spectator.close_code == 1008
    assert relay.relays == {} and relay.watching == 0
