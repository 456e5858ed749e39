"""The operator console's commerce reads: account search with moderation state, and the last audit
(recorded by a real ``elysium audit`` run against the same database)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from elysium import tokens
from tests.commerce.conftest import admin_headers, register

Client = TestClient[web.Request, web.Application]
ROOT = Path(__file__).resolve().parents[2]


async def search(client: Client, token: str, query: str = "") -> Any:
    resp = await client.get(f"/v1/admin/accounts{query}", headers=admin_headers(token))
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_search_by_username_prefix_display_name_and_id_with_bans(client: Client, admin_token: str) -> None:
    tag = uuid.uuid4().hex[:6]
    zed = await register(client, f"zed{tag}a")
    await register(client, f"zed{tag}b")
    other = await register(client, f"amy{tag}")
    found = await search(client, admin_token, f"?q=ZED{tag}")
    assert sorted(a["username"] for a in found["accounts"]) == [f"zed{tag}a", f"zed{tag}b"]
    assert all(a["banned"] is None and a["muted"] is None for a in found["accounts"])
    by_id = await search(client, admin_token, f"?q={other['account_id']}")
    assert [a["account_id"] for a in by_id["accounts"]] == [other["account_id"]]

    ban = await client.post(f"/v1/admin/accounts/{zed['account_id']}/ban", json={"reason": "botting"},
                            headers=admin_headers(admin_token, uuid.uuid4().hex))
    assert ban.status == 201
    (row,) = [a for a in (await search(client, admin_token, f"?q=zed{tag}a"))["accounts"]]
    assert row["banned"]["reason"] == "botting" and row["banned"]["until"] is None and row["muted"] is None

    # Pages: one at a time, in account id order, until next is null.
    seen, after = [], ""
    for _ in range(3):
        page = await search(client, admin_token, f"?q=zed{tag}&limit=1{after}")
        seen += [a["username"] for a in page["accounts"]]
        if page["next"] is None:
            break
        after = f"&after={page['next']}"
    assert sorted(seen) == [f"zed{tag}a", f"zed{tag}b"] and page["next"] is None
    # The house's system accounts are never listed.
    everyone = await search(client, admin_token, "?limit=200")
    assert everyone["accounts"] and all(not a["account_id"].startswith("house") for a in everyone["accounts"])


async def test_bad_searches_and_tokens_are_refused(client: Client, admin_token: str, keys_dir: Path) -> None:
    for query in ("?q=" + "x" * 65, "?after=not%20an%20id", "?limit=0", "?page=2"):
        resp = await client.get(f"/v1/admin/accounts{query}", headers=admin_headers(admin_token))
        assert resp.status == 400 and (await resp.json())["code"] == "invalid-request", query
    # Control characters (a NUL too) and regular expression syntax are searched for as they are.
    for q in ("%00", "%01R", ".*", "(", "a%5C"):
        resp = await client.get(f"/v1/admin/accounts?q={q}", headers=admin_headers(admin_token))
        assert resp.status == 200 and (await resp.json())["accounts"] == [], q
    player = await register(client)
    assert (await client.get("/v1/admin/accounts", headers=player["headers"])).status in (401, 403)
    signer = tokens.Signer(tokens.load_private_key(path=str(keys_dir / "service.key")), "elysium-test")
    moderator = signer.issue("mod", tokens.SERVICE_AUDIENCE, 60, {"scope": "commerce:moderation"})
    assert (await client.get("/v1/admin/accounts", headers=admin_headers(moderator))).status == 200
    denied = await client.get("/v1/admin/audit/latest", headers=admin_headers(moderator))
    assert denied.status == 403 and (await denied.json())["code"] == "forbidden"
    other = signer.issue("mm", tokens.SERVICE_AUDIENCE, 60, {"scope": "matchmaker:admin"})
    assert (await client.get("/v1/admin/accounts", headers=admin_headers(other))).status == 403


async def test_the_latest_audit_is_null_then_what_elysium_audit_found(client: Client, admin_token: str,
                                                                     settings: Any) -> None:
    before = await client.get("/v1/admin/audit/latest", headers=admin_headers(admin_token))
    assert before.status == 200 and await before.json() is None
    await register(client)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ELYSIUM_")},
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "ELYSIUM_MONGO_URL": settings.mongo_url, "ELYSIUM_COMMERCE_DB": settings.db_name}
    done = subprocess.run([sys.executable, "-m", "elysium", "audit", "--json"], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    latest = await (await client.get("/v1/admin/audit/latest", headers=admin_headers(admin_token))).json()
    assert latest["ok"] is True and latest["problem_count"] == 0 and latest["problems"] == []
    assert latest["counts"]["wallets"] >= 1 and latest["at"] and latest["chain_checked"] is False
