from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from gameserver.server import GameServer
from tests.gameserver.conftest import server_factory  # noqa: F401 (fixture)


@pytest.fixture
async def game_server(server_factory: Callable[..., Any]) -> AsyncIterator[GameServer]:  # noqa: F811
    # A long heartbeat period: these tests need no registry updates, and stopping the server
    # while a heartbeat is in flight can leave its heartbeat task running (see the report).
    server = await server_factory(heartbeat_s=30.0, heartbeat_ttl_s=60.0, presence_ttl_s=120.0)
    yield server
    if not server._stopped.is_set():
        await server.stop()
