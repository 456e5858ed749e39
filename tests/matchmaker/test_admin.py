"""The operator's admin routes (/v1/admin/servers, /v1/admin/queues) through the real app and Redis."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from elysium import tokens
from tests.matchmaker.conftest import fake_server

REGIONS = {"local": 20}


def service_token(keys_dir: Path, scope: str) -> dict[str, str]:
    signer = tokens.Signer(tokens.load_private_key(path=str(keys_dir / "service.key")), "elysium-cli")
    return {"Authorization": f"Bearer {signer.issue('operator', tokens.SERVICE_AUDIENCE, 60.0, {'scope': scope})}"}


async def operator_mm(mm_factory: Callable[..., Awaitable[TestClient[Any, Any]]], keys_dir: Path) -> Any:
    return await mm_factory(service_public_key_file=str(keys_dir / "service.pub"))


async def test_servers_lists_the_registry_with_each_servers_http_base(
        mm_factory: Any, keys_dir: Path, rclient: aioredis.Redis) -> None:
    mm = await operator_mm(mm_factory, keys_dir)
    await fake_server(rclient, "gs-a", seats_free=40)
    await fake_server(rclient, "gs-b", draining=True, modes=("arena", "duel"))
    resp = await mm.get("/v1/admin/servers", headers=service_token(keys_dir, "matchmaker:admin"))
    assert resp.status == 200
    servers = {s["server_id"]: s for s in (await resp.json())["servers"]}
    assert set(servers) == {"gs-a", "gs-b"}
    a = servers["gs-a"]
    assert a["ws_url"] == "ws://127.0.0.1:1/gs-a" and a["http_url"] == "http://127.0.0.1:1"
    assert a["capacity"] == 40 and a["region"] == "local" and a["draining"] is False and a["last_seen"] > 0
    assert servers["gs-b"]["draining"] is True and servers["gs-b"]["modes"] == ["arena", "duel"]
    # A server whose heartbeat expired is gone from the list.
    await rclient.delete("elysium:gs:gs-a")
    again = await (await mm.get("/v1/admin/servers", headers=service_token(keys_dir, "matchmaker:admin"))).json()
    assert [s["server_id"] for s in again["servers"]] == ["gs-b"]


async def test_queues_show_tickets_and_the_oldest_wait(mm_factory: Any, keys_dir: Path, auth: Any) -> None:
    mm = await operator_mm(mm_factory, keys_dir)
    assert (await mm.post("/v1/tickets", json={"mode": "duel", "regions": REGIONS}, headers=auth("alice"))).status == 201
    resp = await mm.get("/v1/admin/queues", headers=service_token(keys_dir, "matchmaker:admin"))
    assert resp.status == 200
    queues = {q["mode"]: q for q in (await resp.json())["queues"]}
    assert queues["duel"]["tickets_waiting"] == 1 and queues["duel"]["players_waiting"] == 1
    assert queues["duel"]["oldest_wait_s"] is not None and queues["duel"]["oldest_wait_s"] >= 0
    assert queues["arena"]["tickets_waiting"] == 0 and queues["arena"]["oldest_wait_s"] is None


async def test_admin_routes_refuse_players_wrong_scopes_and_unknown_parameters(
        mm_factory: Any, keys_dir: Path, auth: Any) -> None:
    mm = await operator_mm(mm_factory, keys_dir)
    for path in ("/v1/admin/servers", "/v1/admin/queues"):
        assert (await mm.get(path)).status == 401
        player = await mm.get(path, headers=auth("alice"))
        assert player.status == 401 and player.content_type == "application/problem+json"
        wrong = await mm.get(path, headers=service_token(keys_dir, "commerce:admin"))
        assert wrong.status == 403 and (await wrong.json())["code"] == "forbidden"
        bad = await mm.get(path + "?limit=3", headers=service_token(keys_dir, "matchmaker:admin"))
        assert bad.status == 400 and (await bad.json())["code"] == "invalid-request"
    # Without a service key configured the admin API is off.
    plain = await mm_factory()
    off = await plain.get("/v1/admin/servers", headers=service_token(keys_dir, "matchmaker:admin"))
    assert off.status == 403 and (await off.json())["code"] == "admin-disabled"
    assert (await plain.get("/v1/admin/servers")).status == 401  # no token is 401 all the same
