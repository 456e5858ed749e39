"""Watching presence through a real relay: a signed-in watcher is shown watching until it leaves;
an anonymous one is not; a bad token is refused and shows nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from elysium import presence, tokens
from elysium.presence import State
from elysium.ws import envelope
from spectator.client import SpectatorClient
from tests.spectator.conftest import SyntheticFeed, watch_url
from tests.waiting import until

MATCH = "watched-1"


@pytest.fixture
async def rclient(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    synthetic = SyntheticFeed(client, MATCH)
    synthetic.describe()
    synthetic.append("k", envelope.pack({"t": "keyframe", "n": 0, "ts": 0, "players": [], "objects": [],
                                         "roster": [], "a": []}))
    await synthetic.flush()
    yield client
    await client.aclose()


@pytest.fixture
async def signing_relay(relay_factory: Any, keys_dir: Path) -> Any:
    return await relay_factory(player_public_key_file=str(keys_dir / "player.pub"))


async def _watch(relay: Any, query: str) -> SpectatorClient:
    watcher = SpectatorClient(watch_url(relay, MATCH, query))
    await watcher.connect()
    return watcher


async def test_a_signed_in_watcher_is_shown_watching_until_it_leaves(signing_relay: Any, rclient: aioredis.Redis,
                                                                     player_signer: tokens.Signer) -> None:
    token = player_signer.issue("carol", tokens.PLAYER_AUDIENCE, 600)
    watcher = await _watch(signing_relay, f"token={token}")
    assert (await watcher.recv())["t"] == "watch"

    async def watching() -> presence.Presence | None:
        seen = await presence.read(rclient, "carol")
        return seen if seen.state == State.WATCHING else None

    seen = await until(watching, what="carol shown watching")
    assert seen.match_id == MATCH and seen.watch == f"/v1/watch/{MATCH}"
    await watcher.close()
    await until(lambda: signing_relay.watching == 0, what="the relay seeing carol leave")
    await until(lambda: _offline(rclient, "carol"), what="carol shown offline")


async def _offline(rclient: aioredis.Redis, player: str) -> bool:
    return (await presence.read(rclient, player)) == presence.OFFLINE


async def test_a_bad_token_is_refused_and_an_anonymous_watch_shows_nothing(signing_relay: Any,
                                                                          rclient: aioredis.Redis, keys_dir: Path,
                                                                          player_signer: tokens.Signer) -> None:
    forger = tokens.Signer(tokens.load_private_key(path=str(keys_dir / "service.key")), "elysium-commerce")
    bad = await _watch(signing_relay, f"token={forger.issue('carol', tokens.PLAYER_AUDIENCE, 600)}")
    msg = await bad.recv()
    assert msg["t"] == "error" and msg["code"] == "invalid_token"
    await bad.watch_until_closed(10)
    assert bad.close_code == 1008

    anonymous = await _watch(signing_relay, "")
    assert (await anonymous.recv())["t"] == "watch"
    # A signed-in watcher after it: once dave shows, the anonymous watch has been through a flush too.
    dave = await _watch(signing_relay, f"token={player_signer.issue('dave', tokens.PLAYER_AUDIENCE, 600)}")
    assert (await dave.recv())["t"] == "watch"
    await until(lambda: _not_offline(rclient, "dave"), what="dave shown watching")
    assert await rclient.keys("elysium:presence:*") == [b"elysium:presence:dave:watching"]
    for c in (anonymous, dave):
        await c.close()


async def _not_offline(rclient: aioredis.Redis, player: str) -> bool:
    return not await _offline(rclient, player)
