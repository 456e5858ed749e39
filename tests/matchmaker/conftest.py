from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from elysium import config, keys, redisreply, tokens
from gameserver.redisio import Registry
from matchmaker.app import SERVICES, Services, create_app
from matchmaker.modes import ModeConfig, as_modes
from matchmaker.settings import MatchmakerSettings

TEST_MODES = [
    ModeConfig("arena", min_players=2, max_players=4, score_limit=2, time_limit_s=20.0, start_timeout_s=10.0),
    ModeConfig("duel", min_players=2, max_players=2, score_limit=2, time_limit_s=20.0),
    ModeConfig("squads", teams=2, team_size=3, min_players=2, max_players=6),
]


def make_settings(redis_url: str, mongo_url: str, db: str, keys_dir: Path, **overrides: Any) -> MatchmakerSettings:
    base: dict[str, Any] = dict(host="127.0.0.1", port=0, redis_url=redis_url, mongo_url=mongo_url, mongo_db=db,
                                player_public_key_file=str(keys_dir / "player.pub"),
                                join_private_key_file=str(keys_dir / "join.key"), instance_id="mm-test",
                                match_interval_s=0.05)
    base.update(overrides)
    return config.load(MatchmakerSettings, environ={}, **base)


@pytest.fixture
def mm_settings(redis_url: str, mongo_url: str, mongo_db_name: str,
                keys_dir: Path) -> Callable[..., MatchmakerSettings]:
    def build(**overrides: Any) -> MatchmakerSettings:
        return make_settings(redis_url, mongo_url, mongo_db_name, keys_dir, **overrides)

    return build


@pytest.fixture
async def mm_factory(mm_settings: Callable[..., MatchmakerSettings]
                     ) -> AsyncIterator[Callable[..., Awaitable[TestClient[Any, Any]]]]:
    """Start matchmaker apps on free ports; ``run_loops=False`` leaves matching to the test."""
    clients: list[TestClient[Any, Any]] = []

    async def start(*, run_loops: bool = False, modes: list[ModeConfig] | None = None,
                    **overrides: Any) -> TestClient[Any, Any]:
        app = create_app(mm_settings(**overrides), modes=as_modes(modes or TEST_MODES), run_loops=run_loops)
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def mm(mm_factory: Callable[..., Awaitable[TestClient[Any, Any]]]) -> TestClient[Any, Any]:
    return await mm_factory()


def services(client: TestClient[Any, Any]) -> Services:
    server = client.server
    assert isinstance(server, TestServer)
    return server.app[SERVICES]


@pytest.fixture
def player_token(player_signer: tokens.Signer) -> Callable[..., str]:
    def issue(player: str, *, ttl_s: float = 600.0, name: str | None = None) -> str:
        claims = {"name": name} if name else None
        return player_signer.issue(player, tokens.PLAYER_AUDIENCE, ttl_s, claims)

    return issue


@pytest.fixture
def auth(player_token: Callable[..., str]) -> Callable[[str], dict[str, str]]:
    def headers(player: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {player_token(player)}"}

    return headers


@pytest.fixture
async def rclient(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    yield client
    await client.aclose()


async def fake_server(client: aioredis.Redis, server_id: str, *, region: str = "local", seats_free: int = 100,
                      rooms_free: int = 50, draining: bool = False, ttl_s: float = 60.0,
                      modes: tuple[str, ...] = ("arena",), age_ms: int = 0,
                      mode_info: dict[str, Any] | None = None) -> None:
    """Publish a registry heartbeat with the game server's own Registry adapter."""
    reg = Registry(client, server_id, ttl_s)
    await reg.beat({"address": f"ws://127.0.0.1:1/{server_id}", "region": region, "capacity": seats_free,
                    "seats_free": seats_free, "rooms": 0, "rooms_free": rooms_free, "players": 0,
                    "draining": draining, "modes": list(modes),
                    **({"mode_info": mode_info} if mode_info is not None else {})})
    if age_ms:
        raw = json.loads(redisreply.blob(await client.get(keys.server(server_id))))
        raw["ts_ms"] = int(time.time() * 1000) - age_ms
        await client.set(keys.server(server_id), json.dumps(raw), px=int(ttl_s * 1000))
