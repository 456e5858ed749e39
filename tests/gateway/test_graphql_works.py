"""work(id) with its licences through the gateway, in front of commerce on the embedded chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from tests.commerce.chain.chains import ChainProcess, chain_env
from tests.commerce.chain.conftest import chain_process  # noqa: F401 (fixture)
from tests.commerce.chain.test_works import creator, item_type, licence, new_work
from tests.commerce.conftest import admin_token, client_for, make_settings  # noqa: F401 (fixtures)
from tests.gateway.servers import gateway

WORK = """query($id: ID!) { work(id: $id) { id creator creatorAccount contentHash metadataUri registeredAt
    items { tokenId itemType } licences { id work licensee scope royaltyBps revokedAt validNow }
    royalty { receiver bps licence } } }"""


async def test_a_work_with_its_licences_and_royalty(client_for: Any, mongo_url: str,  # noqa: F811
                                                    mongo_db_name: str, redis_url: str, keys_dir: Path,
                                                    chain_process: ChainProcess,  # noqa: F811
                                                    admin_token: str) -> None:  # noqa: F811
    app = await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir,
                                         environ=chain_env(chain_process), chain_poll_s=60.0))
    author = await creator(app, admin_token)
    relic = await item_type(app, admin_token)
    work = await new_work(app, author, item_types=[relic])
    resp = await licence(app, author, work["id"], royalty_bps=750)
    assert resp.status == 201, await resp.text()
    granted = await resp.json()
    async with gateway({"commerce": str(app.make_url("")).rstrip("/")}) as url, aiohttp.ClientSession() as s:
        async def query(variables: dict[str, Any]) -> dict[str, Any]:
            async with s.post(url + "/graphql", json={"query": WORK, "variables": variables},
                              headers=author["headers"]) as r:
                assert r.status == 200
                body: dict[str, Any] = await r.json()
                return body

        body = await query({"id": str(work["id"])})
        missing = await query({"id": "999999999999"})
        malformed = await query({"id": "0x1"})
    assert "errors" not in body, body
    got = body["data"]["work"]
    assert got["id"] == str(work["id"]) and got["creator"] == author["wallet"]
    assert got["creatorAccount"] == author["account_id"] and got["contentHash"] == work["content_hash"]
    assert [i["itemType"] for i in got["items"]] == [relic]
    assert got["licences"] == [{"id": str(granted["id"]), "work": str(work["id"]), "licensee": granted["licensee"],
                                "scope": "merchandise", "royaltyBps": 750, "revokedAt": None, "validNow": True}]
    assert got["royalty"] == {"receiver": author["wallet"], "bps": 750, "licence": str(granted["id"])}
    assert missing == {"data": {"work": None}} and malformed == {"data": {"work": None}}
