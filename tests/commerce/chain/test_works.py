"""Works and licences through commerce's real app on the embedded chain (``elysium chain``):
the creator role, registering and linking, granting and revoking, what GET reads from the
chain, and every refusal (which changes nothing on chain)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3
from web3.contract import Contract

from commerce.appkeys import STORE
from commerce.chain.artifacts import load_artifact
from commerce.chain.tokens import type_token, unique_token
from tests.commerce.chain.chains import ChainProcess, chain_env
from tests.commerce.conftest import admin_headers, make_settings, register

Client = Any


@pytest.fixture(scope="module")
def rights(chain_process: ChainProcess) -> Iterator[Contract]:
    """ElysiumRights as anyone reads it, straight from the chain (not through commerce)."""
    w3 = Web3(HTTPProvider(chain_process.url))
    yield w3.eth.contract(address=Web3.to_checksum_address(str(chain_process.deployment()["rights"])),
                          abi=load_artifact("ElysiumRights")["abi"])


@pytest.fixture
async def app(client_for: Any, mongo_url: str, mongo_db_name: str, redis_url: str, keys_dir: Path,
              chain_process: ChainProcess) -> Client:
    settings = make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, environ=chain_env(chain_process),
                             chain_poll_s=60.0)
    return await client_for(settings)


def content() -> str:
    return "0x" + secrets.token_hex(32)


def when(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def item_type(app: Client, admin_token: str, stackable: bool = True) -> str:
    """A catalog item type of this test's own (the chain is shared by the module's tests)."""
    name = f"relic-{uuid.uuid4().hex[:8]}"
    resp = await app.put(f"/v1/admin/catalog/{name}", json={
        "name": "Relic", "rarity": "epic", "stackable": stackable, "tradeable": True, "price": {"soft": 10}},
        headers=admin_headers(admin_token))
    assert resp.status == 200, await resp.text()
    return name


async def creator(app: Client, admin_token: str, *, role: bool = True, wallet: bool = True) -> dict[str, Any]:
    """A player with the creator role and a linked wallet (written as wallet linking writes it)."""
    p = await register(app)
    if role:
        resp = await app.put(f"/v1/admin/accounts/{p['account_id']}/roles/creator", headers=admin_headers(admin_token))
        assert resp.status == 200, await resp.text()
    if wallet:
        p["wallet"] = Account.create().address
        await app.app[STORE].accounts.update_one({"_id": p["account_id"]}, {"$set": {"eth_address": p["wallet"]}})
    return p


async def problem(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"
    body: dict[str, Any] = await resp.json()
    assert body["code"] == code and body["type"] == f"urn:elysium:problem:{code}"
    return body


async def new_work(app: Client, p: dict[str, Any], **extra: Any) -> dict[str, Any]:
    resp = await app.post("/v1/works", json={"content_hash": content(), "metadata_uri": "ipfs://work.json", **extra},
                          headers=p["headers"])
    assert resp.status == 201, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def licence(app: Client, p: dict[str, Any], work: int | str, **fields: Any) -> Any:
    body = {"licensee": Account.create().address, "scope": "merchandise", "starts_at": when(-1),
            "expires_at": when(30), "royalty_bps": 500, **fields}
    return await app.post(f"/v1/works/{work}/licences", json=body, headers=p["headers"])


# --- the creator role ---------------------------------------------------------------------------

async def test_an_operator_grants_and_takes_the_creator_role(app: Client, admin_token: str) -> None:
    p = await register(app)
    path = f"/v1/admin/accounts/{p['account_id']}/roles/creator"
    for _ in range(2):  # granting twice is harmless
        resp = await app.put(path, headers=admin_headers(admin_token))
        assert resp.status == 200 and (await resp.json())["roles"] == ["creator"]
    assert (await (await app.get("/v1/me", headers=p["headers"])).json())["roles"] == ["creator"]
    resp = await app.delete(path, headers=admin_headers(admin_token))
    assert resp.status == 200 and (await resp.json())["roles"] == []


async def test_bad_role_changes_are_refused(app: Client, admin_token: str) -> None:
    p = await register(app)
    await problem(await app.put(f"/v1/admin/accounts/{p['account_id']}/roles/wizard",
                                headers=admin_headers(admin_token)), 404, "unknown-role")
    await problem(await app.put("/v1/admin/accounts/nobody/roles/creator", headers=admin_headers(admin_token)),
                  404, "unknown-account")
    await problem(await app.put(f"/v1/admin/accounts/{p['account_id']}/roles/creator", headers=p["headers"]),
                  401, "invalid-token")  # a player cannot make themselves a creator
    await problem(await app.put(f"/v1/admin/accounts/{p['account_id']}/roles/creator"), 401, "unauthorized")
    assert (await (await app.get("/v1/me", headers=p["headers"])).json())["roles"] == []


# --- registering and linking ----------------------------------------------------------------------

async def test_a_creator_registers_a_work_linked_to_item_types(app: Client, admin_token: str,
                                                               rights: Contract) -> None:
    p = await creator(app, admin_token)
    potion, boots = await item_type(app, admin_token), await item_type(app, admin_token, stackable=False)
    hash_ = content()
    resp = await app.post("/v1/works", json={"content_hash": hash_, "metadata_uri": "ipfs://bafy/work.json",
                                             "item_types": [potion, boots]}, headers=p["headers"])
    assert resp.status == 201, await resp.text()
    work = await resp.json()
    assert resp.headers["Location"] == f"/v1/works/{work['id']}"
    assert work["creator"] == p["wallet"] and work["creator_account"] == p["account_id"]
    assert work["content_hash"] == hash_ and work["metadata_uri"] == "ipfs://bafy/work.json"
    assert work["items"] == [{"token_id": str(type_token(potion)), "item_type": potion},
                             {"token_id": str(type_token(boots)), "item_type": boots}]
    assert work["licences"] == [] and work["royalty"] is None
    # The chain holds it, as anyone reads it.
    assert rights.functions.workOfContent(bytes.fromhex(hash_[2:])).call() == work["id"]
    assert rights.functions.getWork(work["id"]).call()[0] == p["wallet"]
    assert rights.functions.workOfToken(type_token(potion)).call() == work["id"]
    resp = await app.get(f"/v1/works/{work['id']}")
    assert resp.status == 200 and await resp.json() == work


async def test_registering_the_same_content_again_answers_the_work(app: Client, admin_token: str) -> None:
    p, other = await creator(app, admin_token), await creator(app, admin_token)
    relic = await item_type(app, admin_token)
    body = {"content_hash": content(), "metadata_uri": "https://cdn.example/w.json"}
    first = await app.post("/v1/works", json=body, headers=p["headers"])
    assert first.status == 201
    again = await app.post("/v1/works", json={**body, "item_types": [relic]}, headers=p["headers"])
    assert again.status == 200
    work = await again.json()
    assert work["id"] == (await first.json())["id"] and work["items"][0]["item_type"] == relic
    refused = await problem(await app.post("/v1/works", json=body, headers=other["headers"]), 409, "work-exists")
    assert refused["work"] == work["id"]


async def test_an_operator_registers_for_a_creator_account(app: Client, admin_token: str) -> None:
    p = await creator(app, admin_token)
    resp = await app.post("/v1/works", json={"content_hash": content(), "metadata_uri": "ipfs://w",
                                             "creator_account": p["account_id"]}, headers=admin_headers(admin_token))
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["creator_account"] == p["account_id"]
    await problem(await app.post("/v1/works", json={"content_hash": content(), "metadata_uri": "ipfs://w"},
                                 headers=admin_headers(admin_token)), 400, "invalid-request")


async def test_bad_registrations_change_nothing_on_chain(app: Client, admin_token: str, rights: Contract) -> None:
    before = rights.functions.workCount().call()
    plain = await creator(app, admin_token, role=False)
    unlinked = await creator(app, admin_token, wallet=False)
    p = await creator(app, admin_token)
    ok = {"content_hash": content(), "metadata_uri": "ipfs://w"}
    await problem(await app.post("/v1/works", json=ok, headers=plain["headers"]), 403, "creator-role-required")
    await problem(await app.post("/v1/works", json=ok, headers=unlinked["headers"]), 409, "wallet-not-linked")
    await problem(await app.post("/v1/works", json=ok), 401, "unauthorized")
    for bad in ({**ok, "content_hash": "0x1234"}, {**ok, "content_hash": "0x" + "00" * 32},
                {**ok, "metadata_uri": "javascript:alert(1)"}, {**ok, "item_types": ["Not An Id"]},
                {**ok, "item_types": ["a", "a"]}, {**ok, "creator_account": p["account_id"]},
                {**ok, "extra": 1}, {"metadata_uri": "ipfs://w"}):
        await problem(await app.post("/v1/works", json=bad, headers=p["headers"]), 400, "invalid-request")
    body = await problem(await app.post("/v1/works", json={**ok, "item_types": ["no-such-type"]},
                                        headers=p["headers"]), 404, "unknown-item")
    assert body["errors"] == {"no-such-type": "is not in the catalog"}
    assert rights.functions.workCount().call() == before


async def test_an_item_type_belongs_to_one_work(app: Client, admin_token: str, rights: Contract) -> None:
    p = await creator(app, admin_token)
    relic = await item_type(app, admin_token)
    first = await new_work(app, p, item_types=[relic])
    hash_ = content()
    body = await problem(await app.post("/v1/works", json={"content_hash": hash_, "metadata_uri": "ipfs://w",
                                                           "item_types": [relic]}, headers=p["headers"]),
                         409, "item-type-linked")
    assert body["errors"] == {relic: f"is linked to work {first['id']}"}
    assert rights.functions.workOfContent(bytes.fromhex(hash_[2:])).call() == 0
    await problem(await app.post(f"/v1/works/{first['id']}/items", json={"item_types": ["no-such-type"]},
                                 headers=p["headers"]), 404, "unknown-item")


async def test_linking_more_item_types_later(app: Client, admin_token: str, rights: Contract) -> None:
    p, other = await creator(app, admin_token), await creator(app, admin_token)
    work = await new_work(app, p)
    relic = await item_type(app, admin_token)
    await problem(await app.post(f"/v1/works/{work['id']}/items", json={"item_types": [relic]},
                                 headers=other["headers"]), 403, "not-work-creator")
    resp = await app.post(f"/v1/works/{work['id']}/items", json={"item_types": [relic]}, headers=p["headers"])
    assert resp.status == 200 and [i["item_type"] for i in (await resp.json())["items"]] == [relic]
    assert rights.functions.workOfToken(type_token(relic)).call() == work["id"]


# --- licences -----------------------------------------------------------------------------------

async def test_the_licence_lifecycle_as_read_from_the_chain(app: Client, admin_token: str,
                                                           rights: Contract) -> None:
    p = await creator(app, admin_token)
    work = await new_work(app, p)
    licensee = Account.create().address
    resp = await licence(app, p, work["id"], licensee=licensee.lower(), starts_at="2026-01-01T00:00:00Z",
                         expires_at="2099-01-01T00:00:00+00:00", royalty_bps=750, scope="items")
    assert resp.status == 201, await resp.text()
    granted = await resp.json()
    assert resp.headers["Location"] == f"/v1/works/{work['id']}/licences/{granted['id']}"
    assert granted == {"id": granted["id"], "work": work["id"], "licensee": licensee, "scope": "items",
                       "starts_at": "2026-01-01T00:00:00Z", "expires_at": "2099-01-01T00:00:00Z",
                       "royalty_bps": 750, "revoked_at": None, "valid_now": True}
    start = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    valid = rights.functions.hasValidLicence
    assert valid(work["id"], licensee, start).call() and not valid(work["id"], licensee, start - 1).call()

    shown = await (await app.get(f"/v1/works/{work['id']}")).json()
    assert shown["licences"] == [granted]
    assert shown["royalty"] == {"receiver": p["wallet"], "bps": 750, "licence": granted["id"]}

    path = f"/v1/works/{work['id']}/licences/{granted['id']}"
    resp = await app.delete(path, headers=p["headers"])
    assert resp.status == 200
    revoked = await resp.json()
    assert revoked["revoked_at"] is not None and revoked["valid_now"] is False
    assert not valid(work["id"], licensee, 2**40).call()
    again = await app.delete(path, headers=p["headers"])  # revoking again answers it as it is
    assert again.status == 200 and await again.json() == revoked
    shown = await (await app.get(f"/v1/works/{work['id']}")).json()
    assert shown["licences"] == [revoked] and shown["royalty"] is None


async def test_an_operator_grants_and_revokes_for_any_work(app: Client, admin_token: str) -> None:
    p = await creator(app, admin_token)
    work = await new_work(app, p)
    admin = {"headers": admin_headers(admin_token)}
    resp = await licence(app, admin, work["id"])
    assert resp.status == 201, await resp.text()
    lic = await resp.json()
    resp = await app.delete(f"/v1/works/{work['id']}/licences/{lic['id']}", headers=admin_headers(admin_token))
    assert resp.status == 200 and (await resp.json())["revoked_at"] is not None


async def test_bad_licences_change_nothing_on_chain(app: Client, admin_token: str, rights: Contract) -> None:
    p, other = await creator(app, admin_token), await creator(app, admin_token)
    work = await new_work(app, p)
    before = rights.functions.licenceCount().call()
    body = await problem(await licence(app, p, work["id"], starts_at=when(2), expires_at=when(1)),
                         422, "invalid-period")
    assert body["errors"] == {"expires_at": "must be after starts_at"}
    same = when(3)
    await problem(await licence(app, p, work["id"], starts_at=same, expires_at=same), 422, "invalid-period")
    body = await problem(await licence(app, p, work["id"], royalty_bps=10_001), 400, "invalid-request")
    assert "royalty_bps" in body["errors"]
    wrong_case = Account.create().address
    wrong_case = wrong_case[:2] + wrong_case[2:].swapcase() if wrong_case[2:] != wrong_case[2:].lower() else \
        "0x" + "A" + wrong_case[3:].lower()
    for fields in ({"licensee": "0x" + "00" * 20}, {"licensee": wrong_case}, {"licensee": "bob"},
                   {"starts_at": "2026-01-01T00:00:00"}, {"starts_at": "yesterday"}, {"scope": ""},
                   {"royalty_bps": -1}, {"starts_at": "1900-01-01T00:00:00Z"}):
        await problem(await licence(app, p, work["id"], **fields), 400, "invalid-request")
    await problem(await licence(app, other, work["id"]), 403, "not-work-creator")
    await problem(await licence(app, p, 999_999), 404, "unknown-work")
    await problem(await licence(app, p, "abc"), 404, "unknown-work")
    plain = await creator(app, admin_token, role=False)
    await problem(await licence(app, plain, work["id"]), 403, "creator-role-required")
    unlinked = await creator(app, admin_token, wallet=False)
    await problem(await licence(app, unlinked, work["id"]), 409, "wallet-not-linked")
    assert rights.functions.licenceCount().call() == before


async def test_bad_revocations_change_nothing(app: Client, admin_token: str, rights: Contract) -> None:
    p, other = await creator(app, admin_token), await creator(app, admin_token)
    work, elsewhere = await new_work(app, p), await new_work(app, p)
    lic = await (await licence(app, p, work["id"])).json()
    path = f"/v1/works/{work['id']}/licences/{lic['id']}"
    await problem(await app.delete(path, headers=other["headers"]), 403, "not-work-creator")
    await problem(await app.delete(f"/v1/works/{elsewhere['id']}/licences/{lic['id']}", headers=p["headers"]),
                  404, "unknown-licence")
    await problem(await app.delete(f"/v1/works/{work['id']}/licences/x", headers=p["headers"]), 404,
                  "unknown-licence")
    await problem(await app.delete(path), 401, "unauthorized")
    assert rights.functions.isValidAt(lic["id"], int(datetime.now(UTC).timestamp())).call()


async def test_reading_an_unknown_work(app: Client) -> None:
    await problem(await app.get("/v1/works/999999"), 404, "unknown-work")
    await problem(await app.get("/v1/works/0"), 404, "unknown-work")
    await problem(await app.get("/v1/works/-1"), 404, "unknown-work")


async def test_without_a_chain_the_routes_say_so(client: Client) -> None:
    await problem(await client.get("/v1/works/1"), 503, "chain-disabled")


async def test_a_role_change_takes_no_fields(app: Client, admin_token: str) -> None:
    p = await register(app)
    path = f"/v1/admin/accounts/{p['account_id']}/roles/creator"
    await problem(await app.put(path, json={"role": "admin"}, headers=admin_headers(admin_token)), 400,
                  "invalid-request")
    resp = await app.put(path, json={}, headers=admin_headers(admin_token))
    assert resp.status == 200 and (await resp.json())["roles"] == ["creator"]


async def test_granting_the_same_terms_again_answers_the_licence(app: Client, admin_token: str,
                                                                rights: Contract) -> None:
    p = await creator(app, admin_token)
    work = await new_work(app, p)
    terms = {"licensee": Account.create().address, "starts_at": "2026-06-01T00:00:00Z",
             "expires_at": "2027-06-01T00:00:00Z"}
    first = await licence(app, p, work["id"], **terms)
    assert first.status == 201
    count = rights.functions.licenceCount().call()
    again = await licence(app, p, work["id"], **terms)
    assert again.status == 200 and await again.json() == await first.json()
    assert rights.functions.licenceCount().call() == count
    other_share = await licence(app, p, work["id"], **terms, royalty_bps=100)
    assert other_share.status == 201  # different terms: another licence


async def test_asking_whether_an_address_holds_a_valid_licence(app: Client, admin_token: str) -> None:
    p = await creator(app, admin_token)
    work = await new_work(app, p)
    licensee = Account.create().address
    lic = await (await licence(app, p, work["id"], licensee=licensee, starts_at="2026-01-01T00:00:00Z",
                               expires_at="2098-01-01T00:00:00Z")).json()
    path = f"/v1/works/{work['id']}/licensees/{licensee}"
    now = await (await app.get(path)).json()
    assert now["valid"] is True and now["licences"] == [lic["id"]] and now["licensee"] == licensee
    before = await (await app.get(path, params={"at": "2025-12-31T23:59:59Z"})).json()
    assert before == {"work": work["id"], "licensee": licensee, "at": "2025-12-31T23:59:59Z", "valid": False,
                      "licences": []}
    after = await (await app.get(path, params={"at": "2098-01-01T00:00:00+00:00"})).json()
    assert after["valid"] is False
    stranger = await (await app.get(f"/v1/works/{work['id']}/licensees/{Account.create().address}")).json()
    assert stranger["valid"] is False
    await app.delete(f"/v1/works/{work['id']}/licences/{lic['id']}", headers=p["headers"])
    assert (await (await app.get(path)).json())["valid"] is False
    assert (await (await app.get(path, params={"at": "2026-06-01T00:00:00Z"})).json())["valid"] is True

    await problem(await app.get(path, params={"at": "soon"}), 400, "invalid-request")
    await problem(await app.get(path, params={"when": "2026-06-01T00:00:00Z"}), 400, "invalid-request")
    await problem(await app.get(f"/v1/works/{work['id']}/licensees/0x1234"), 400, "invalid-request")
    await problem(await app.get(f"/v1/works/999999/licensees/{licensee}"), 404, "unknown-work")


# --- unique items of a linked type --------------------------------------------------------------

async def test_a_unique_item_withdrawn_pays_the_royalty_of_its_types_work(app: Client, admin_token: str,
                                                                          rights: Contract,
                                                                          chain_process: ChainProcess) -> None:
    p = await creator(app, admin_token)
    relic = await item_type(app, admin_token, stackable=False)
    work = await new_work(app, p, item_types=[relic])
    assert (await licence(app, p, work["id"], royalty_bps=750)).status == 201
    owner = await register(app)
    wallet = Account.create().address
    await app.app[STORE].accounts.update_one({"_id": owner["account_id"]}, {"$set": {"eth_address": wallet}})
    bought = await app.post("/v1/purchases", json={"item_id": relic, "currency": "soft"},
                            headers={**owner["headers"], "Idempotency-Key": "buy-relic"})
    assert bought.status == 201, await bought.text()
    item = (await bought.json())["items"][0]
    withdrawn = await app.post(f"/v1/me/items/{item}/withdraw",
                               headers={**owner["headers"], "Idempotency-Key": "out-relic"})
    body = await withdrawn.json()
    assert withdrawn.status == 201 and body["state"] == "on_chain", body
    token = unique_token(item)
    assert body["token_id"] == str(token) and token != type_token(relic)
    # Its own token is linked to the type's work, so the licence's royalty follows it.
    assert rights.functions.workOfToken(token).call() == work["id"]
    w3 = Web3(HTTPProvider(chain_process.url))
    items = w3.eth.contract(address=Web3.to_checksum_address(str(chain_process.deployment()["items"])),
                            abi=load_artifact("ElysiumItems")["abi"])
    assert items.functions.balanceOf(wallet, token).call() == 1
    assert items.functions.royaltyInfo(token, 10_000).call() == [p["wallet"], 750]
