"""What a client written from docs/spectator.md alone meets first: the hello comes first, a seek
into a new room works, and states and players in the hello and the listing are documented ones."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from websockets.exceptions import ConnectionClosed

from elysium.ws import envelope
from gameserver.client import GameClient
from spectator.client import SpectatorClient
from tests.gameserver.conftest import url
from tests.spectator.conftest import SyntheticFeed, watch_url
from tests.spectator.test_e2e import wait_for_info
from tests.waiting import until

PING = envelope.pack({"t": "ping", "id": 7, "ts": 1})


@pytest.fixture
async def redis_client(redis_url: str) -> Any:
    client = aioredis.from_url(redis_url)
    yield client
    await client.aclose()


def keyframe(n: int) -> bytes:
    return envelope.pack({"t": "keyframe", "n": n, "ts": 0, "players": [], "objects": [], "roster": [], "a": []})


async def listing(relay: Any) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{relay.port}/v1/matches") as resp:
            assert resp.status == 200
            body: dict[str, Any] = json.loads(await resp.read())
            return body


async def test_a_ping_sent_at_once_is_answered_after_the_watch_hello(relay: Any, redis_client: Any) -> None:
    feed = SyntheticFeed(redis_client, "early-ping")
    feed.describe()
    feed.append("k", keyframe(0))
    await feed.flush()
    for query in ("", "from=start"):
        spectator = SpectatorClient(watch_url(relay, "early-ping", query))
        await spectator.connect()
        await spectator.send(PING)
        first = await spectator.recv()
        assert first["t"] == "watch", first
        await spectator.close()


async def test_a_seek_into_a_just_created_room_is_served(game_server: Any, relay: Any, mint: Any,
                                                         redis_url: str) -> None:
    alice = GameClient(url(game_server))
    await alice.join(mint("alice", "fresh-room", seats=2))
    await wait_for_info(redis_url, "fresh-room")
    spectator = SpectatorClient(watch_url(relay, "fresh-room", "from=start"))
    await spectator.connect()
    first = await spectator.recv()
    assert first["t"] == "watch" and first["state"] == "waiting", first
    await spectator.close()
    await alice.close()


async def test_a_waiting_room_lists_its_players(game_server: Any, relay: Any, mint: Any, redis_url: str) -> None:
    alice = GameClient(url(game_server))
    await alice.join(mint("alice", "lobby", seats=3))

    async def listed_players() -> list[str]:
        live = [m for m in (await listing(relay))["live"] if m["match_id"] == "lobby"]
        return [p["id"] for p in live[0]["players"]] if live else []

    async def alice_listed() -> bool:
        return await listed_players() == ["alice"]

    await until(alice_listed, timeout_s=5, what="alice listed in the waiting room")
    await alice.close()


async def test_disposed_matches_are_shown_as_finished(relay: Any, redis_client: Any) -> None:
    feed = SyntheticFeed(redis_client, "gone")
    feed.append("k", keyframe(0))
    feed.describe(state="disposed", live=False)
    await feed.flush()
    replays = (await listing(relay))["replays"]
    assert [m["state"] for m in replays if m["match_id"] == "gone"] == ["finished"]
    spectator = SpectatorClient(watch_url(relay, "gone", "delay=0"))
    await spectator.connect()
    hello = await spectator.recv()
    assert hello["state"] == "finished" and hello["live"] is False
    try:
        while True:
            await spectator.recv(timeout=3)
    except (ConnectionClosed, TimeoutError):
        pass
    await spectator.close()
