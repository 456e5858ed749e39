"""The butler's world in tests: the real commerce and matchmaker on free ports, and real tools on them.

Use it from any butler test module::

    from tests.butler.world import World, world  # noqa: F401 (fixtures)
    from tests.butler.world import admin_token, client_for, mm_factory, mm_settings  # noqa: F401 (fixtures)

``world`` (async, one per test) starts the matchmaker (no matching loop: tickets simply queue, no
game server needed) and commerce (its matchmaker URL pointing at it, so public profiles read
ratings), both verifying player tokens with the same key, on the session's Redis and embedded
MongoDB, each with a fresh database. Commerce loads the catalog of :func:`catalog_file`: the shipped item types plus
``ember-blade`` (unique, tradeable, 100 soft or 10 premium), and **no sign-up grant**, so a
player's balance is exactly what the test gave them.

``await world.player(name="Ayla", soft=250, items=("ember-blade",))`` registers a player with that
display name, gives them the items (each bought from the store with a grant of exactly its price
first, so the balance is unchanged) and then ``soft`` coins, all through the admin grants API and
the public purchase route. ``world.wallet(p)`` and ``world.items(p)`` read back what commerce
holds; ``world.finish_match`` reports a finished match on the results stream, as a game server
does, for history and ratings. ``befriend``, ``listing`` and ``put_item`` use the public and
admin routes too.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo import AsyncMongoClient

from butler.proposals import Proposals
from butler.tools import Toolbox
from commerce.settings import DEFAULT_CATALOG
from elysium import keys as shared_keys
from elysium.results import MatchResult, PlayerRow
from tests.commerce.conftest import admin_token, client_for  # noqa: F401 (fixtures)
from tests.commerce.conftest import make_settings as commerce_settings
from tests.matchmaker.conftest import mm_factory, mm_settings, services  # noqa: F401 (fixtures)

__all__ = ["EMBER_BLADE", "World", "admin_token", "catalog_file", "client_for", "mm_factory", "mm_settings", "world"]

EMBER_BLADE = {"id": "ember-blade", "name": "Ember Blade", "description": "A sword that glows like coals.",
               "rarity": "rare", "stackable": False, "tradeable": True, "price": {"soft": 100, "premium": 10}}
PROPOSALS_COLLECTION = "butler_proposals"
MONGO_TIMEOUT_MS = 5000


def catalog_file(folder: Path) -> Path:
    """The world's catalog: the shipped one, ``ember-blade`` added, no sign-up grant."""
    raw = json.loads(Path(DEFAULT_CATALOG).read_text())
    raw["items"] = [*raw["items"], EMBER_BLADE]
    raw["signup_grant"] = {}
    path = folder / "catalog.json"
    path.write_text(json.dumps(raw))
    return path


@dataclass
class World:
    commerce: TestClient[web.Request, web.Application]
    mm: TestClient[Any, Any]
    commerce_url: str
    matchmaker_url: str
    session: aiohttp.ClientSession
    toolbox: Toolbox
    proposals: Proposals
    admin_token: str
    mongo: AsyncMongoClient[dict[str, Any]]
    db_name: str

    def admin(self, key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        if key:
            headers["Idempotency-Key"] = key
        return headers

    async def grant(self, player: dict[str, Any], currency: str, amount: int) -> None:
        resp = await self.commerce.post("/v1/admin/grants", headers=self.admin(uuid.uuid4().hex),
                                        json={"account_id": player["account_id"], "currency": currency,
                                              "amount": amount, "reason": "test"})
        assert resp.status == 201, await resp.text()

    async def put_item(self, item: dict[str, Any]) -> None:
        """Create or replace an item type through the admin catalog API."""
        resp = await self.commerce.put(f"/v1/admin/catalog/{item['id']}", headers=self.admin(), json=item)
        assert resp.status == 200, await resp.text()

    async def buy(self, player: dict[str, Any], item_id: str) -> list[str]:
        """Buy one ``item_id`` from the store for ``player``, granting its price first (balance unchanged)."""
        resp = await self.commerce.get(f"/v1/catalog/{item_id}")
        assert resp.status == 200, await resp.text()
        price: dict[str, int] = (await resp.json())["price"]
        currency = "soft" if "soft" in price else "premium"
        await self.grant(player, currency, price[currency])
        resp = await self.commerce.post("/v1/purchases", json={"item_id": item_id, "currency": currency},
                                        headers={**player["headers"], "Idempotency-Key": uuid.uuid4().hex})
        assert resp.status == 201, await resp.text()
        bought: list[str] = (await resp.json())["items"]
        return bought

    async def player(self, name: str | None = None, soft: int | None = None,
                     items: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
        """A registered player: ``account_id``, ``access_token``, ``headers``, ``username``, ``display_name``."""
        username = f"p{uuid.uuid4().hex[:10]}"
        body: dict[str, Any] = {"username": username, "password": "correct horse battery"}
        if name is not None:
            body["display_name"] = name
        resp = await self.commerce.post("/v1/accounts", json=body)
        assert resp.status == 201, await resp.text()
        out: dict[str, Any] = await resp.json()
        out["username"] = username
        out["display_name"] = name or username
        out["headers"] = {"Authorization": f"Bearer {out['access_token']}"}
        for item_id in items:
            await self.buy(out, item_id)
        if soft:
            await self.grant(out, "soft", soft)
        return out

    async def wallet(self, player: dict[str, Any]) -> dict[str, int]:
        resp = await self.commerce.get("/v1/me/wallet", headers=player["headers"])
        assert resp.status == 200, await resp.text()
        balances: dict[str, int] = (await resp.json())["balances"]
        return balances

    async def items(self, player: dict[str, Any]) -> list[dict[str, Any]]:
        resp = await self.commerce.get("/v1/me/items", headers=player["headers"], params={"limit": "200"})
        assert resp.status == 200, await resp.text()
        found: list[dict[str, Any]] = (await resp.json())["items"]
        return found

    async def finish_match(self, match_id: str, scores: dict[str, tuple[dict[str, Any], int]]) -> None:
        """A finished arena match as a game server reports it (the results stream), taken in by the
        matchmaker's consumer: ``scores`` maps a name shown in the match to (player, score)."""
        ended = int(time.time() * 1_000_000)
        rows = [PlayerRow(player_id=p["account_id"], seat=n, name=name, team=0, score=score, time_played_s=30.0,
                          stats={"kills": score, "deaths": 1}) for n, (name, (p, score)) in enumerate(scores.items())]
        rows.sort(key=lambda r: -r.score)
        result = MatchResult.create(match_id=match_id, mode="arena", seed=3, server_id="gs-1", reason="score",
                                    ticks=600, duration_s=30.0, started_at_us=ended - 30_000_000, ended_at_us=ended,
                                    teams=0, players=rows)
        svc = services(self.mm)
        await svc.consumer.ensure_group()
        await svc.redis.xadd(shared_keys.RESULTS_STREAM, result.entry())  # type: ignore[arg-type]
        while await svc.consumer.poll(">"):
            pass

    async def befriend(self, a: dict[str, Any], b: dict[str, Any]) -> None:
        """Make ``a`` and ``b`` friends (a asks, b asks back)."""
        for one, other in ((a, b), (b, a)):
            resp = await self.commerce.post("/v1/me/friends/requests", headers=one["headers"],
                                            json={"player_id": other["account_id"]})
            assert resp.status in (200, 201), await resp.text()

    async def listing(self, seller: dict[str, Any], item: str, price: int, currency: str = "soft") -> dict[str, Any]:
        """``seller`` lists the owned item ``item`` (an item id) through the public route."""
        resp = await self.commerce.post("/v1/listings", json={"item": item, "price": price, "currency": currency},
                                        headers={**seller["headers"], "Idempotency-Key": uuid.uuid4().hex})
        assert resp.status == 201, await resp.text()
        found: dict[str, Any] = await resp.json()
        return found


def _url(client: TestClient[Any, Any]) -> str:
    return str(client.make_url("")).rstrip("/")


@pytest.fixture
async def world(client_for: Callable[..., Awaitable[TestClient[web.Request, web.Application]]],  # noqa: F811
                mm_factory: Callable[..., Awaitable[TestClient[Any, Any]]],  # noqa: F811
                mongo_url: str, mongo_db_name: str, redis_url: str, keys_dir: Path, tmp_path: Path,
                admin_token: str) -> AsyncIterator[World]:  # noqa: F811
    mm = await mm_factory(mongo_db=f"{mongo_db_name}_mm")
    mm_url = _url(mm)
    commerce = await client_for(commerce_settings(mongo_url, mongo_db_name, redis_url, keys_dir,
                                                  catalog_file=str(catalog_file(tmp_path)), matchmaker_url=mm_url))
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, retryWrites=False, timeoutMS=MONGO_TIMEOUT_MS,
                                                               serverSelectionTimeoutMS=MONGO_TIMEOUT_MS)
    db_name = f"{mongo_db_name}_butler"
    proposals = Proposals(mongo[db_name][PROPOSALS_COLLECTION])
    await proposals.ensure_indexes()
    async with aiohttp.ClientSession() as session:
        yield World(commerce=commerce, mm=mm, commerce_url=_url(commerce), matchmaker_url=mm_url, session=session,
                    toolbox=Toolbox(session, _url(commerce), mm_url), proposals=proposals, admin_token=admin_token,
                    mongo=mongo, db_name=db_name)
    await mongo.close()
