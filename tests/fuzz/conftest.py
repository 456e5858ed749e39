"""The five HTTP services, each started for real the way its own suite starts it, by base URL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from commerce.settings import CommerceSettings
from gameserver.server import GameServer
from spectator.server import SpectatorServer
from tests.butler.test_api import butler_for, butler_settings  # noqa: F401
from tests.butler.world import World, world  # noqa: F401
from tests.commerce.chain.chains import ChainProcess, chain_settings
from tests.commerce.chain.conftest import chain_process  # noqa: F401
from tests.commerce.conftest import admin_token, client_for, register, settings  # noqa: F401
from tests.gameserver.conftest import server_factory  # noqa: F401
from tests.matchmaker.conftest import mm_factory, mm_settings, player_token  # noqa: F401
from tests.spectator.conftest import relay_factory  # noqa: F401


FUZZ_RATE = 10_000  # requests a player may send per window (the most the settings allow): more than a run sends


def base_url(client: TestClient[Any, Any]) -> str:
    return str(client.make_url("")).rstrip("/")


@pytest.fixture
async def commerce_url(client_for: Callable[[CommerceSettings], Awaitable[TestClient[Any, Any]]],
                       settings: CommerceSettings, chain_process: ChainProcess) -> str:  # noqa: F811
    # The sandbox payment provider and the embedded chain, so the payment, withdrawal and works
    # routes are fuzzed past "payments are off" and "this service has no chain".
    return base_url(await client_for(replace(settings, payments_provider="sandbox",
                                             **chain_settings(chain_process))))


@pytest.fixture
async def commerce_player(commerce_url: str, client_for: Any, settings: CommerceSettings) -> dict[str, Any]:
    """A registered player of the running commerce (its tokens and account id)."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        resp = await session.post(f"{commerce_url}/v1/accounts",
                                  json={"username": "fuzzer", "password": "correct horse battery"})
        assert resp.status == 201, await resp.text()
        body: dict[str, Any] = await resp.json()
    return body


@pytest.fixture
async def matchmaker_url(mm_factory: Callable[..., Awaitable[TestClient[Any, Any]]]) -> str:
    return base_url(await mm_factory(run_loops=True))


@pytest.fixture
async def butler_url(butler_for: Callable[..., Awaitable[TestClient[Any, Any]]], world: World,  # noqa: F811
                     mongo_url: str, mongo_db_name: str, redis_url: str, keys_dir: Path) -> str:
    """The real butler (the offline engine, which performs the same tools without a model) on the
    test's Redis and MongoDB, its tools calling the world's real commerce and matchmaker. Its
    per-player limits are raised past the run's size, so every generated chat runs a turn instead
    of being answered 429 (``tests/butler/test_api.py`` holds the limits themselves)."""
    return base_url(await butler_for(butler_settings(mongo_url, f"{mongo_db_name}_b", redis_url, keys_dir,
                                                     commerce_url=world.commerce_url,
                                                     matchmaker_url=world.matchmaker_url,
                                                     chat_per_window=FUZZ_RATE, confirm_per_window=FUZZ_RATE)))


@pytest.fixture
async def butler_player(world: World) -> dict[str, Any]:  # noqa: F811
    """A player of the world's commerce, with an item and coins, so the butler's tools have work to do."""
    return await world.player(name="Fuzzer", soft=250, items=("speed-boots",))


@pytest.fixture
async def gameserver_url(server_factory: Callable[..., Awaitable[GameServer]]) -> AsyncIterator[str]:
    server = await server_factory()
    yield f"http://127.0.0.1:{server.port}"
    if not server._stopped.is_set():
        await server.stop()


@pytest.fixture
async def relay_url(relay_factory: Callable[..., Awaitable[SpectatorServer]]) -> str:
    relay = await relay_factory()
    return f"http://127.0.0.1:{relay.port}"
