from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from elysium import config
from elysium.ws.replica import Replica
from elysium.feeds import FeedKind, MatchInfo
from elysium.feeds.redis_feed import RedisFeedWriter
from gameserver.modes.arena import Arena
from spectator.server import SpectatorServer
from spectator.settings import SpectatorSettings
from tests.gameserver.conftest import cleanup_servers, game_server, mint, server_factory, url  # noqa: F401


def relay_settings(redis_url: str, **overrides: Any) -> SpectatorSettings:
    base: dict[str, Any] = dict(host="127.0.0.1", port=0, relay_id="test-relay-1", redis_url=redis_url,
                                viewers_every_s=0.2, drain_s=1.0)
    base.update(overrides)
    return config.load(SpectatorSettings, environ={}, **base)


@pytest.fixture
async def relay_factory(redis_url: str) -> AsyncIterator[Callable[..., Awaitable[SpectatorServer]]]:
    started: list[SpectatorServer] = []

    async def start(**overrides: Any) -> SpectatorServer:
        server = SpectatorServer(relay_settings(overrides.pop("redis", redis_url), **overrides))
        await server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        if not server._stopped.is_set():
            await server.stop()


@pytest.fixture
async def relay(relay_factory: Callable[..., Awaitable[SpectatorServer]]) -> SpectatorServer:
    return await relay_factory()


def watch_url(server: SpectatorServer, match_id: str, query: str = "") -> str:
    return f"ws://127.0.0.1:{server.port}/v1/watch/{match_id}" + (f"?{query}" if query else "")


def state_of(replica: Replica) -> dict[str, Any]:
    return copy.deepcopy({"players": replica.players, "objects": replica.objects, "roster": replica.roster,
                          "acks": replica.acks})


def record(states: dict[int, dict[str, Any]], replica: Replica, msg: dict[str, Any]) -> None:
    """Remember the state after every feed message, keyed by the tick it belongs to."""
    if msg["t"] in ("keyframe", "delta", "events"):
        states[msg["n"]] = state_of(replica)


class SyntheticFeed:
    """Writes feed entries the way the game server does (its feed writer), for relay-only tests."""

    def __init__(self, client: Any, match_id: str) -> None:
        self.writer = RedisFeedWriter(client, maxlen=50_000, retention_s=600)
        self.match_id = match_id
        self.tick = 0

    def describe(self, state: str = "running", mode: str = "arena", live: bool = True) -> None:
        self.writer.describe(self.match_id, MatchInfo(
            match_id=self.match_id, mode=mode, server_id="synthetic", state=state, tick=self.tick, tick_hz=20,
            players=(), started_at_us=1, updated_at_ms=1, end_reason=None,
            columns=Arena.column_layout() if mode == "arena" else None,
            map_info=dict(Arena.MAP) if mode == "arena" else None), live)

    def append(self, kind: FeedKind, data: bytes, tick: int | None = None) -> None:
        self.writer.append(self.match_id, kind, self.tick if tick is None else tick, data)

    async def flush(self) -> None:
        self.writer.kick()
        await self.writer.drain(5.0)
        await asyncio.sleep(0)
