"""Start-up work (indexes, catalog load) is safe with any number of replicas starting at once."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from commerce.app import read_catalog
from commerce.appkeys import STORE
from commerce.settings import DEFAULT_CATALOG
from tests.commerce.conftest import make_settings, register


async def test_three_replicas_starting_together_on_a_fresh_database(client_for: Any, mongo_url: str,
                                                                     mongo_db_name: str, redis_url: str,
                                                                     keys_dir: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="commerce.store")
    replicas = await asyncio.gather(*[
        client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, consumer_name=f"r{n}"))
        for n in range(3)])
    for c in replicas:
        assert (await c.get("/readyz")).status == 200
    cat = read_catalog(DEFAULT_CATALOG)
    store = replicas[0].app[STORE]
    stored = {d["_id"]: d async for d in store.catalog.find({})}
    assert sorted(stored) == sorted(i.id for i in cat.items)
    for item in cat.items:
        assert {k: stored[item.id][k] for k in item.to_doc()} == item.to_doc()
    supply = {d["_id"]: (d["minted"], d["remaining"]) async for d in store.supply.find({})}
    assert supply == {i.id: (0, i.supply_cap) for i in cat.items if i.supply_cap is not None}
    assert [d async for d in store.meta.find({}, {"_id": 1, "version": 1})] == [{"_id": "catalog",
                                                                                "version": cat.version}]
    assert [r.message for r in caplog.records].count("catalog loaded") == 1  # by one replica, in one go
    # Each serves, and the unique indexes exist once: a username is still taken only once.
    p = await register(replicas[1])
    taken = await replicas[2].post("/v1/accounts", json={"username": p["username"], "password": "another password"})
    assert taken.status == 409
