"""What the trade tests share: players with items, offers, and a snapshot of everything that holds value."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import Any

from commerce.appkeys import STORE
from tests.commerce.conftest import admin_headers, register


async def player(client: Any, *buys: str, premium: int = 0, admin_token: str | None = None) -> dict[str, Any]:
    """A registered player (500 soft) who bought one of each of ``buys``; ``items`` maps type -> [ids]."""
    p = await register(client)
    p["items"] = {}
    for item_id in buys:
        resp = await client.post("/v1/purchases", json={"item_id": item_id, "currency": "soft"},
                                 headers={**p["headers"], "Idempotency-Key": uuid.uuid4().hex})
        assert resp.status == 201, await resp.text()
        p["items"].setdefault(item_id, []).extend((await resp.json())["items"])
    if premium:
        assert admin_token is not None
        resp = await client.post("/v1/admin/grants", json={"account_id": p["account_id"], "currency": "premium",
                                                           "amount": premium, "reason": "test"},
                                 headers=admin_headers(admin_token, uuid.uuid4().hex))
        assert resp.status == 201, await resp.text()
    return p


def offer(client: Any, p: dict[str, Any], receiver: str, *, key: str | None = None, **body: Any) -> Any:
    return client.post("/v1/trades", json={"receiver_id": receiver, **body},
                       headers={**p["headers"], "Idempotency-Key": key or uuid.uuid4().hex})


def act(client: Any, p: dict[str, Any], trade_id: str, event: str, *, key: str | None = None,
        **kwargs: Any) -> Any:
    return client.post(f"/v1/trades/{trade_id}/{event}",
                       headers={**p["headers"], "Idempotency-Key": key or uuid.uuid4().hex}, **kwargs)


async def snapshot(client: Any) -> tuple[Any, ...]:
    """Every wallet, ledger entry, item and trade: a refusal must leave all of it as it was."""
    store = client.app[STORE]
    return (sorted([(w["_id"], w["balance"]) async for w in store.wallets.find({})]),
            sorted([e["_id"] async for e in store.ledger.find({})]),
            sorted([(i["_id"], i["owner"], i["custody"], i.get("trade"), i.get("unique_owner"))
                    async for i in store.items.find({})]),
            sorted([(t["_id"], t["state"]) async for t in store.trades.find({})]))


async def totals(client: Any) -> dict[str, int]:
    """Each currency over every wallet, players' and escrow's."""
    out: dict[str, int] = {}
    async for w in client.app[STORE].wallets.find({}):
        out[w["currency"]] = out.get(w["currency"], 0) + w["balance"]
    return out


def audit(mongo_url: str, db: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ELYSIUM_MONGO_URL": mongo_url, "ELYSIUM_COMMERCE_DB": db}
    return subprocess.run([sys.executable, "-m", "elysium", "audit"], env=env, capture_output=True, text=True,
                          timeout=60)


def assert_audit_passes(mongo_url: str, db: str) -> None:
    done = audit(mongo_url, db)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "audit passed" in done.stdout
