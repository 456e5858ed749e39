"""The matchmaker in Agones mode: matches placed through a GameServerAllocation, against a
stand-in of that one Kubernetes API endpoint (Allocated, UnAllocated, 403, 500 answers)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web

from elysium import redisreply, tokens
from elysium.config import ConfigError
from elysium.agones import SDK_LABEL_PREFIX, SEATS_LABEL, SEATS_LABEL_KEY
from matchmaker import agones, keys
from tests.matchmaker.conftest import fake_server, services
from tests.matchmaker.test_matching import queue_players
from tests.test_metrics import naming_problems

NAMESPACE = "games"
TOKEN = "sa-token-123"
PATH = f"/apis/allocation.agones.dev/v1/namespaces/{NAMESPACE}/gameserverallocations"


@dataclass
class KubeAPIStandIn:
    """POST .../gameserverallocations, answering as the Agones extension API server does."""
    answer: str = "allocated"  # allocated, unallocated, contention, 403, 500
    name: str = "gameserver-x7k2p-abcde"
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def _allocate(self, request: web.Request) -> web.Response:
        self.requests.append(await request.json())
        self.headers.append(dict(request.headers))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}" or self.answer == "403":
            return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden",
                                      "message": "gameserverallocations.allocation.agones.dev is forbidden",
                                      "code": 403}, status=403)
        if self.answer == "500":
            return web.json_response({"kind": "Status", "status": "Failure", "code": 500}, status=500)
        status: dict[str, Any] = {"state": {"unallocated": "UnAllocated", "contention": "Contention"}.get(
            self.answer, "Allocated")}
        if status["state"] == "Allocated":
            status.update(gameServerName=self.name, address="10.1.2.3", nodeName="node-1",
                          ports=[{"name": "metrics", "port": 9000}, {"name": "play", "port": 7777}])
        body = {"apiVersion": "allocation.agones.dev/v1", "kind": "GameServerAllocation",
                "spec": self.requests[-1]["spec"], "status": status}
        return web.json_response(body, status=201)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(PATH, self._allocate)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def kube() -> AsyncIterator[KubeAPIStandIn]:
    api = KubeAPIStandIn()
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
def agones_mm(mm_factory: Any, kube: KubeAPIStandIn, tmp_path: Path) -> Callable[..., Any]:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")

    async def start(**overrides: Any) -> Any:
        return await mm_factory(allocator="agones", agones_api_url=kube.url, agones_token_file=str(token),
                                agones_ca_file="", agones_namespace=NAMESPACE, **overrides)

    return start


def outcome(mm: Any, name: str) -> float:
    text = services(mm).metrics.m.render().decode()
    line = next((ln for ln in text.splitlines()
                 if ln.startswith(f'elysium_matchmaker_agones_allocations_total{{outcome="{name}"}}')), None)
    return float(line.split()[-1]) if line else 0.0


async def test_an_allocated_game_server_gets_the_match_and_its_seats(agones_mm: Any, kube: KubeAPIStandIn, auth: Any,
                                                                      rclient: aioredis.Redis, keys_dir: Path) -> None:
    mm = await agones_mm()
    await fake_server(rclient, kube.name, seats_free=40)  # the game server heartbeats as in registry mode
    await fake_server(rclient, "gs-registry-only", seats_free=40)
    ids = await queue_players(mm, auth, ["p1", "p2", "p3", "p4"])
    report = await services(mm).matcher.run_pass()
    assert report.matches == 1 and report.players == 4

    sent = kube.requests[-1]
    assert sent["apiVersion"] == "allocation.agones.dev/v1" and sent["kind"] == "GameServerAllocation"
    allocated, ready = sent["spec"]["selectors"]
    assert [allocated["gameServerState"], ready["gameServerState"]] == ["Allocated", "Ready"]
    for sel in (allocated, ready):
        assert sel["matchLabels"] == {"agones.dev/fleet": "gameserver"}
        (expr,) = sel["matchExpressions"]
        assert expr["key"] == "agones.dev/sdk-seats-free" and expr["operator"] == "In"
        assert expr["values"] == [str(n) for n in range(4, 101)]  # at least the match's 4 seats
    match_id = sent["spec"]["metadata"]["annotations"]["elysium.dev/match-id"]
    assert kube.headers[-1]["Authorization"] == f"Bearer {TOKEN}"

    verifier = tokens.Verifier(tokens.load_public_key(path=str(keys_dir / "join.pub")))
    for ticket, player in zip(ids, ["p1", "p2", "p3", "p4"], strict=True):
        view = await (await mm.get(f"/v1/tickets/{ticket}", headers=auth(player))).json()
        m = view["match"]
        assert m["server_id"] == kube.name and m["address"] == "ws://10.1.2.3:7777/v1/play"
        assert m["match_id"] == match_id
        claims = verifier.verify(m["join_token"], tokens.JOIN_AUDIENCE, max_ttl_s=60)
        assert claims["srv"] == kube.name and claims["mid"] == match_id
    # The seats are claimed in the registry on the allocated server, as in registry mode.
    assert redisreply.texts(await rclient.zrange(keys.seats(kube.name), 0, -1)) == [match_id]
    assert not await rclient.exists(keys.seats("gs-registry-only"))
    assert outcome(mm, "allocated") == 1
    assert naming_problems(services(mm).metrics.m.render().decode(), "elysium_matchmaker_") == []


@pytest.mark.parametrize("answer,counted", [("unallocated", "unallocated"), ("contention", "contention"),
                                            ("403", "forbidden"), ("500", "error")])
async def test_no_allocation_places_nothing_and_the_tickets_wait(agones_mm: Any, kube: KubeAPIStandIn, auth: Any,
                                                                 rclient: aioredis.Redis, answer: str,
                                                                 counted: str) -> None:
    mm = await agones_mm()
    kube.answer = answer
    await fake_server(rclient, kube.name, seats_free=40)
    ids = await queue_players(mm, auth, ["a", "b", "c", "d"])
    report = await services(mm).matcher.run_pass()
    assert report.matches == 0 and report.no_server == 1 and len(kube.requests) == 1
    assert outcome(mm, counted) == 1
    view = await (await mm.get(f"/v1/tickets/{ids[0]}", headers=auth("a"))).json()
    assert view["status"] == "queued"
    assert not await rclient.exists(keys.seats(kube.name))
    kube.answer = "allocated"  # Agones recovers: the next pass places the match
    assert (await services(mm).matcher.run_pass()).matches == 1


async def test_an_allocated_server_missing_from_the_registry_is_not_used(agones_mm: Any, kube: KubeAPIStandIn,
                                                                         auth: Any, rclient: aioredis.Redis) -> None:
    mm = await agones_mm()
    await fake_server(rclient, "some-other-server", seats_free=40)
    await queue_players(mm, auth, ["a", "b", "c", "d"])
    assert (await services(mm).matcher.run_pass()).matches == 0
    assert outcome(mm, "unregistered") == 1
    # Full in the registry (another replica's claims): refused, nothing placed.
    await fake_server(rclient, kube.name, seats_free=2)
    assert (await services(mm).matcher.run_pass()).matches == 0
    assert outcome(mm, "refused") == 1


async def test_an_unreachable_api_places_nothing(mm_factory: Any, auth: Any, rclient: aioredis.Redis,
                                                 tmp_path: Path) -> None:
    (tmp_path / "token").write_text(TOKEN)
    mm = await mm_factory(allocator="agones", agones_api_url="http://127.0.0.1:1", agones_namespace=NAMESPACE,
                          agones_token_file=str(tmp_path / "token"), agones_ca_file="")
    await fake_server(rclient, "gs", seats_free=40)
    await queue_players(mm, auth, ["a", "b", "c", "d"])
    assert (await services(mm).matcher.run_pass()).matches == 0
    assert outcome(mm, "error") == 1


async def test_registry_mode_stays_the_default(mm: Any) -> None:
    assert services(mm).settings.allocator == "registry" and services(mm).matcher.allocator is None


def test_agones_settings_are_checked_at_start(mm_settings: Callable[..., Any], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ELYSIUM_MATCHMAKER_ALLOCATOR"):
        mm_settings(allocator="kubernetes")
    with pytest.raises(ConfigError, match="ELYSIUM_MATCHMAKER_AGONES_TOKEN_FILE"):
        mm_settings(allocator="agones", agones_token_file=str(tmp_path / "missing"))
    (tmp_path / "token").write_text(TOKEN)
    with pytest.raises(ConfigError, match="ELYSIUM_MATCHMAKER_AGONES_URL"):
        mm_settings(allocator="agones", agones_token_file=str(tmp_path / "token"), agones_url="ws://{address}/x")
    settings = mm_settings(allocator="agones", agones_token_file=str(tmp_path / "token"), agones_ca_file="")
    with pytest.raises(ConfigError, match="ELYSIUM_MATCHMAKER_AGONES_NAMESPACE"):
        agones.AgonesAllocator(settings, services_registry_stub())
    (tmp_path / "namespace").write_text("arena-ns\n")
    assert agones.AgonesAllocator(settings, services_registry_stub()).namespace == "arena-ns"


def services_registry_stub() -> Any:
    return object()


def test_the_allocation_selects_on_the_label_game_servers_set() -> None:
    # The game server gives the SDK the key; the SDK stores it under its prefix; the matchmaker selects on that.
    assert SEATS_LABEL == SDK_LABEL_PREFIX + SEATS_LABEL_KEY == "agones.dev/sdk-seats-free"
    expr = agones.allocation_request("gameserver-eu", 2, 3, "m")["spec"]["selectors"][0]["matchExpressions"][0]
    assert expr["key"] == SEATS_LABEL
    assert agones.seat_values(2, 5) == ["2", "3", "4", "5"]
    assert agones.allocation_request("gameserver-{region}".replace("{region}", "eu"), 2, 3, "m")["spec"][
        "selectors"][1]["matchLabels"] == {"agones.dev/fleet": "gameserver-eu"}
