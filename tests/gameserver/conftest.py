from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from elysium import config, devtokens, tokens
from gameserver.modes import MODES, GameMode
from gameserver.server import GameServer
from gameserver.settings import GameServerSettings

SERVER_ID = "test-gs-1"


def make_settings(redis_url: str, keys_dir: Path, **overrides: Any) -> GameServerSettings:
    base: dict[str, Any] = dict(host="127.0.0.1", port=0, server_id=SERVER_ID, redis_url=redis_url,
                                join_public_key_file=str(keys_dir / "join.pub"), heartbeat_s=0.5,
                                heartbeat_ttl_s=2.0)
    base.update(overrides)
    return config.load(GameServerSettings, environ={}, **base)


@pytest.fixture
def server_factory(redis_url: str, keys_dir: Path) -> Callable[..., Any]:
    started: list[GameServer] = []

    async def start(modes: Mapping[str, type[GameMode[Any]]] = MODES, **overrides: Any) -> GameServer:
        server = GameServer(make_settings(redis_url, keys_dir, **overrides), modes=modes)
        await server.start()
        started.append(server)
        return server

    start.started = started  # type: ignore[attr-defined]
    return start


@pytest.fixture
async def game_server(server_factory: Callable[..., Any]) -> AsyncIterator[GameServer]:
    server = await server_factory()
    yield server
    if not server._stopped.is_set():
        await server.stop()


@pytest.fixture
async def cleanup_servers(server_factory: Callable[..., Any]) -> AsyncIterator[None]:
    yield
    for server in server_factory.started:  # type: ignore[attr-defined]
        if not server._stopped.is_set():
            await server.stop()


@pytest.fixture
def mint(join_signer: tokens.Signer) -> Callable[..., str]:
    def mint_token(player: str, match: str = "m1", *, server: str = SERVER_ID, ttl_s: float = 30.0,
                   **room: Any) -> str:
        spec = devtokens.room_claim(**{"seats": 4, "min_players": 2, **room})
        return devtokens.mint_join(join_signer, match_id=match, player_id=player, server_id=server, room=spec,
                                   name=player, ttl_s=ttl_s)

    return mint_token


def url(server: GameServer) -> str:
    return f"ws://127.0.0.1:{server.port}/v1/play"
