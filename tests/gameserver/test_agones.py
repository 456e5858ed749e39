"""The game server under Agones, against a stand-in of the SDK sidecar's REST API: Ready at
start, Health each period, Allocate when a match starts, the seats label, Ready again once
the allocation's matches are over, Shutdown after a drain; a sidecar that does not answer
stops nothing."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from elysium import config, procs
from elysium.config import ConfigError
from elysium.agones import SEATS_LABEL
from gameserver.agones import AgonesLifecycle, AgonesSDK, Occupancy, seats_label
from gameserver.client import GameClient
from gameserver.metrics import GameMetrics
from gameserver.server import GameServer
from gameserver.settings import GameServerSettings
from tests.gameserver.agones_sdk import AgonesSDKStandIn
from tests.gameserver.conftest import url
from tests.test_metrics import naming_problems
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
    assert all(c.body == {} for c in sdk.calls if c.method == "POST")
    assert all(c.body is None for c in sdk.calls if c.method == "GET")
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
    assert naming_problems(server.metrics.render().decode(), "elysium_gameserver_") == []
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

    calls = GameMetrics().base.counter("agones_sdk_calls", "c", ("call", "outcome"))
    life = AgonesLifecycle(AgonesSDK(sdk.port, calls),
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


async def test_an_allocation_whose_players_never_come_ends_after_the_idle_time(sdk: AgonesSDKStandIn) -> None:
    """The matchmaker's GameServerAllocation allocates the server without a call of its own; if
    no room appears, the server reads its state and goes back to Ready after the idle time."""
    calls = GameMetrics().base.counter("agones_sdk_calls", "c", ("call", "outcome"))
    life = AgonesLifecycle(AgonesSDK(sdk.port, calls), lambda: Occupancy(0, "4", False), health_s=0.1, idle_s=0.3,
                           when_empty="ready")
    life.start()
    try:
        await until(lambda: sdk.state == "Ready", what="Ready")
        assert "GET /gameserver" in sdk.paths(reads=True)
        sdk.state = "Allocated"  # what a GameServerAllocation does
        allocated_at = asyncio.get_running_loop().time()
        await until(lambda: sdk.state == "Ready", what="Ready again after the idle time")
        assert asyncio.get_running_loop().time() - allocated_at >= 0.3
        assert sdk.paths().count("POST /ready") == 2 and "POST /allocate" not in sdk.paths()
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


# --- k8s/overlays/agones, rendered with kubectl kustomize ---------------------------------------

ROOT = Path(__file__).resolve().parents[2]
OVERLAY = ROOT / "k8s" / "overlays" / "agones"
def kustomize(path: Path) -> list[dict[str, Any]]:
    out = subprocess.run(["kubectl", "kustomize", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def rendered(tmp_path: Path) -> list[dict[str, Any]]:
    """The Agones overlay over the plain-Kubernetes base: the base's game server Deployment, its
    autoscaler and its disruption budget are gone (the Fleet and its FleetAutoscaler replace them)."""
    docs = kustomize(OVERLAY)
    for kind in ("Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        assert not [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == "gameserver"], kind
    return docs


def one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, (kind, name, [(d["kind"], d["metadata"]["name"]) for d in docs])
    return found[0]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def test_the_fleet_runs_the_game_server_with_its_port_health_sdk_and_grace(tmp_path: Path) -> None:
    docs = rendered(tmp_path)
    assert not [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "gameserver"]
    fleet = one(docs, "Fleet")
    assert fleet["apiVersion"] == "agones.dev/v1" and fleet["spec"]["replicas"] >= 1
    assert fleet["spec"]["scheduling"] == "Packed"
    gs = fleet["spec"]["template"]["spec"]
    assert gs["ports"] == [{"name": "play", "portPolicy": "Dynamic", "containerPort": 7350, "protocol": "TCP",
                            "container": "gameserver"}]
    assert gs["health"]["disabled"] is False and gs["health"]["periodSeconds"] > 0
    assert gs["sdkServer"]["httpPort"] == 9358
    pod = gs["template"]["spec"]
    (container,) = pod["containers"]
    assert container["name"] == "gameserver" and container["args"][:1] == ["gameserver"]
    env = env_of(container)
    assert env["ELYSIUM_SERVER_ID"] == {"fieldRef": {"fieldPath": "metadata.name"}}  # what allocations return
    assert float(env["ELYSIUM_AGONES_HEALTH_S"]) < gs["health"]["periodSeconds"]
    assert pod["terminationGracePeriodSeconds"] > float(env["ELYSIUM_DRAIN_TIMEOUT_S"])
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": 7350}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 7350}
    assert set(container["resources"]["limits"]) == {"cpu", "memory"} and container["resources"]["requests"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    # The plain values are valid game server settings (the secret-held ones stood in for).
    plain = {k: v for k, v in env.items() if isinstance(v, str)}
    settings = config.load(GameServerSettings, environ={**plain, "ELYSIUM_REDIS_URL": "redis://redis:6379/0",
                                                        "AGONES_SDK_HTTP_PORT": "9358"})
    assert settings.agones_sdk_port == 9358 and settings.host == "127.0.0.1"  # --host comes from args
    assert "--host" in container["args"] and "0.0.0.0" in container["args"]


def test_the_autoscaler_keeps_a_buffer_and_the_matchmaker_may_allocate(tmp_path: Path) -> None:
    docs = rendered(tmp_path)
    fleet = one(docs, "Fleet")
    scaler = one(docs, "FleetAutoscaler")
    assert scaler["apiVersion"] == "autoscaling.agones.dev/v1"
    assert scaler["spec"]["fleetName"] == fleet["metadata"]["name"]
    buffer = scaler["spec"]["policy"]["buffer"]
    assert scaler["spec"]["policy"]["type"] == "Buffer"
    assert 0 < buffer["bufferSize"] <= buffer["minReplicas"] < buffer["maxReplicas"]

    role = one(docs, "Role")
    assert role["rules"] == [{"apiGroups": ["allocation.agones.dev"], "resources": ["gameserverallocations"],
                              "verbs": ["create"]}]
    binding = one(docs, "RoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    account = one(docs, "ServiceAccount", binding["subjects"][0]["name"])
    mm = one(docs, "Deployment", "matchmaker")["spec"]["template"]["spec"]
    assert mm["serviceAccountName"] == account["metadata"]["name"] and mm["automountServiceAccountToken"] is True
    (container,) = mm["containers"]
    assert container["image"] and container["args"] == ["matchmaker"]  # the base's container, patched
    env = env_of(container)
    assert env["ELYSIUM_MATCHMAKER_ALLOCATOR"] == "agones"
    assert env["ELYSIUM_MATCHMAKER_AGONES_FLEET"] == fleet["metadata"]["name"]
    gs_env = env_of(fleet["spec"]["template"]["spec"]["template"]["spec"]["containers"][0])
    assert env["ELYSIUM_MATCHMAKER_AGONES_SEATS_CAP"] == gs_env["ELYSIUM_MAX_SEATS_PER_ROOM"]
    policies = {d["metadata"]["name"]: d for d in docs if d["kind"] == "NetworkPolicy"}
    egress = policies["matchmaker-to-kubernetes-api"]["spec"]["egress"][0]["ports"]
    assert {"protocol": "TCP", "port": 443} in egress
    ingress = policies["players-to-agones-gameservers"]["spec"]
    assert ingress["podSelector"]["matchLabels"]["agones.dev/role"] == "gameserver"


async def test_a_server_out_of_placement_after_shutdown_still_drains_and_stops_whole(
        server_factory: Callable[..., Any], sdk: AgonesSDKStandIn, cleanup_servers: None) -> None:
    """ELYSIUM_AGONES_WHEN_EMPTY=shutdown stops taking matches first; the SIGTERM that follows
    (Agones deleting the pod) must still run the whole drain and stop."""
    server: GameServer = await server_factory(agones_sdk_port=sdk.port, agones_when_empty="shutdown")
    await server.stop_taking_matches()
    assert server.draining and server.describe_server()["seats_free"] == 0
    await asyncio.wait_for(server.drain_and_stop(), 20)
    assert server._stopped.is_set()
