"""The game server under Agones, against a stand-in of the SDK sidecar's REST API: Ready at
start, Health each period, Allocate when a match starts, the seats label, Ready again once
the allocation's matches are over, Shutdown after a drain; a sidecar that does not answer
stops nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from elysium import config, procs
from elysium.config import ConfigError
from gameserver.agones import SEATS_LABEL, AgonesLifecycle, AgonesSDK, Occupancy, seats_label
from gameserver.client import GameClient
from gameserver.metrics import GameMetrics
from gameserver.server import GameServer
from gameserver.settings import GameServerSettings
from tests.gameserver.agones_sdk import AgonesSDKStandIn
from tests.gameserver.conftest import url
from tests.waiting import until


@pytest.fixture
async def sdk() -> AsyncIterator[AgonesSDKStandIn]:
    standin = AgonesSDKStandIn()
    await standin.start()
    yield standin
    await standin.stop()


async def play_to_the_end(server: GameServer, mint: Callable[..., str], match: str) -> None:
    a, b = GameClient(url(server)), GameClient(url(server))
    await a.join(mint("alice", match, seats=2, min_players=2, time_limit_s=1.0))
    await b.join(mint("bob", match, seats=2, min_players=2, time_limit_s=1.0))

    async def reader(c: GameClient) -> None:
        while c.result is None:
            await c.recv(timeout=10)

    try:
        await asyncio.wait_for(asyncio.gather(reader(a), reader(b)), 15)
    finally:
        await a.close()
        await b.close()


def subsequence(wanted: list[str], seen: list[str]) -> bool:
    it = iter(seen)
    return all(any(w == s for s in it) for w in wanted)


async def test_ready_allocate_labels_ready_again_and_shutdown_after_the_drain(
        server_factory: Callable[..., Any], mint: Callable[..., str], sdk: AgonesSDKStandIn,
        cleanup_servers: None) -> None:
    server: GameServer = await server_factory(agones_sdk_port=sdk.port, agones_health_s=0.2, agones_idle_s=0.3,
                                              max_players=10)
    await until(lambda: sdk.labels.get(SEATS_LABEL) == "10", what="the seats label after Ready")
    assert sdk.paths()[:2] == ["POST /ready", "PUT /metadata/label seats-free=10"]
    assert sdk.state == "Ready"
    await until(lambda: len([c for c in sdk.calls if c.path == "/health"]) >= 3, what="three Health calls")

    await play_to_the_end(server, mint, "m-agones")
    assert "POST /allocate" in sdk.paths()
    # Back in the pool once the room is gone and the idle time has passed.
    await until(lambda: sdk.paths()[-2:] == ["POST /ready", "PUT /metadata/label seats-free=10"]
                or sdk.paths()[-1:] == ["POST /ready"], timeout_s=15, what="Ready again after the match")
    assert sdk.state == "Ready"
    await server.drain_and_stop()
    paths = sdk.paths()
    assert subsequence(["POST /ready", "PUT /metadata/label seats-free=10", "POST /allocate",
                        "PUT /metadata/label seats-free=8", "POST /ready", "PUT /metadata/label seats-free=0",
                        "POST /shutdown"], paths), paths
    assert paths.count("POST /allocate") == 1 and paths[-1] == "POST /shutdown"
    assert sdk.state == "Shutdown"
    # Every body is what the SDK documents: {} for lifecycle calls, {key, value} for labels.
    assert all(c.body == {} for c in sdk.calls if not c.path.startswith("/metadata/"))
    # Health went on all along, on its period.
    health = [c.at for c in sdk.calls if c.path == "/health"]
    assert len(health) >= 5 and max(b - a for a, b in zip(health, health[1:])) < 1.5


async def test_a_sidecar_that_does_not_answer_stops_nothing(
        server_factory: Callable[..., Any], mint: Callable[..., str], sdk: AgonesSDKStandIn,
        cleanup_servers: None) -> None:
    sdk.failing = True
    server: GameServer = await server_factory(agones_sdk_port=sdk.port, agones_health_s=0.1, max_players=10)
    await until(lambda: len(sdk.calls) >= 2, what="Ready retried")
    assert {c.path for c in sdk.calls} == {"/ready"}  # nothing else before Ready worked
    # Players still play meanwhile.
    a = GameClient(url(server))
    assert (await a.join(mint("carol", "m-down", seats=2, min_players=1)))["t"] == "welcome"
    assert server.http_get("/healthz")[0] == 200
    text = server.metrics.render().decode()
    assert 'elysium_gameserver_agones_sdk_calls_total{call="ready",outcome="error"}' in text
    sdk.failing = False  # the sidecar comes up: Ready, then Allocate for the room that exists
    await until(lambda: "POST /allocate" in sdk.paths(), what="Allocate once the sidecar answers")
    assert sdk.paths().index("POST /ready") < sdk.paths().index("POST /allocate")
    assert 'call="ready",outcome="ok"' in server.metrics.render().decode()
    await a.close()


async def test_no_sidecar_listening_at_all(server_factory: Callable[..., Any], cleanup_servers: None) -> None:
    server: GameServer = await server_factory(agones_sdk_port=procs.free_port(), agones_health_s=0.1)
    await until(lambda: 'call="ready",outcome="error"' in server.metrics.render().decode(),
                what="the failed Ready counted")
    assert server.http_get("/readyz")[0] == 200
    await asyncio.wait_for(server.drain_and_stop(), 20)  # Shutdown is tried a few times, then the server stops


async def test_shutdown_when_empty_ends_the_allocation_with_shutdown(sdk: AgonesSDKStandIn) -> None:
    rooms = [1]
    stopped: list[bool] = []

    async def stop_taking() -> None:
        stopped.append(True)

    life = AgonesLifecycle(AgonesSDK(sdk.port, GameMetrics().base.counter("agones_sdk_calls", "c", ("call", "outcome"))),
                           lambda: Occupancy(rooms[0], "0" if rooms[0] else "4", False), health_s=0.1, idle_s=0.2,
                           when_empty="shutdown", on_shutdown=stop_taking)
    life.start()
    try:
        await until(lambda: "POST /allocate" in sdk.paths(), what="Allocate")
        rooms[0] = 0
        await until(lambda: sdk.state == "Shutdown", what="Shutdown after the allocation's match")
        assert stopped == [True]
        assert subsequence(["POST /ready", "POST /allocate", "PUT /metadata/label seats-free=0", "POST /shutdown"],
                           sdk.paths()), sdk.paths()
        assert sdk.paths().count("POST /ready") == 1  # shutdown mode never goes back to Ready
        await life.drained()
        assert sdk.paths().count("POST /shutdown") == 1
    finally:
        await life.close()


def test_the_seats_label_is_a_valid_label_value_never_above_the_largest_room() -> None:
    assert seats_label(2998, 10, 100) == "100"
    assert seats_label(7, 10, 100) == "7"
    assert seats_label(50, 0, 100) == "0"
    assert seats_label(-3, 2, 100) == "0"


def test_bad_agones_settings_name_the_variable() -> None:
    with pytest.raises(ConfigError, match="ELYSIUM_AGONES_WHEN_EMPTY"):
        config.load(GameServerSettings, environ={"ELYSIUM_AGONES_WHEN_EMPTY": "later"})
    with pytest.raises(ConfigError, match="AGONES_SDK_HTTP_PORT"):
        config.load(GameServerSettings, environ={"AGONES_SDK_HTTP_PORT": "70000"})
    good = {"AGONES_SDK_HTTP_PORT": "9358", "ELYSIUM_REDIS_URL": "redis://127.0.0.1:6379/0",
            "ELYSIUM_JOIN_PUBLIC_KEY_FILE": "join.pub"}
    assert config.load(GameServerSettings, environ=good).agones_sdk_port == 9358
