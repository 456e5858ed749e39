"""The four HTTP services, each started for real the way its own suite starts it, by base URL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from commerce.settings import CommerceSettings
from gameserver.server import GameServer
from spectator.server import SpectatorServer
from tests.commerce.chain.chains import ChainProcess, chain_settings
from tests.commerce.chain.conftest import chain_process  # noqa: F401
from tests.commerce.conftest import admin_token, client_for, register, settings  # noqa: F401
from tests.gameserver.conftest import server_factory  # noqa: F401
from tests.matchmaker.conftest import mm_factory, mm_settings, player_token  # noqa: F401
from tests.spectator.conftest import relay_factory  # noqa: F401


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
async def gameserver_url(server_factory: Callable[..., Awaitable[GameServer]]) -> AsyncIterator[str]:
    server = await server_factory()
    yield f"http://127.0.0.1:{server.port}"
    if not server._stopped.is_set():
        await server.stop()


@pytest.fixture
async def relay_url(relay_factory: Callable[..., Awaitable[SpectatorServer]]) -> str:
    relay = await relay_factory()
    return f"http://127.0.0.1:{relay.port}"
