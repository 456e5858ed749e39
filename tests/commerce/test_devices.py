"""Guest and device accounts through the real app: a device id logs in (creating a guest the
first time), and the guest later links credentials, devices and a wallet, keeping what it owns."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from typing import Any

import pytest
from eth_account import Account

from commerce.appkeys import STORE
from commerce.devices import MAX_DEVICES, device_key
from tests.commerce.conftest import register
from tests.commerce.test_accounts import _problem
from tests.commerce.test_security import _lines
from tests.commerce.test_wallet_link import challenge, link, sign


def new_device() -> str:
    return str(uuid.uuid4())


async def device_login(client: Any, device_id: str, status: int | None = None) -> dict[str, Any]:
    resp = await client.post("/v1/auth/device", json={"device_id": device_id})
    assert resp.status in ((status,) if status else (200, 201)), await resp.text()
    body: dict[str, Any] = await resp.json()
    assert body["created"] is (resp.status == 201)
    body["headers"] = {"Authorization": f"Bearer {body['access_token']}"}
    return body


async def test_a_device_id_creates_a_guest_once_and_logs_into_it_after(client: Any) -> None:
    device = new_device()
    first = await device_login(client, device, 201)
    profile = first["profile"]
    assert profile["guest"] is True and profile["username"] is None and profile["eth_address"] is None
    assert profile["display_name"].startswith("Guest-") and len(profile["display_name"]) == 12
    assert first["token_type"] == "Bearer" and first["refresh_token"]
    me = await (await client.get("/v1/me", headers=first["headers"])).json()
    assert me["account_id"] == first["account_id"]
    wallet = await (await client.get("/v1/me/wallet", headers=first["headers"])).json()
    assert wallet["balances"]["soft"] == 500  # the welcome grant, as a registration gets

    again = await device_login(client, device, 200)
    assert again["account_id"] == first["account_id"] and again["refresh_token"] != first["refresh_token"]
    # The same tokens as a normal login: the refresh token rotates.
    resp = await client.post("/v1/sessions/refresh", json={"refresh_token": again["refresh_token"]})
    assert resp.status == 200 and (await resp.json())["account_id"] == first["account_id"]
    other = await device_login(client, new_device(), 201)
    assert other["account_id"] != first["account_id"]


async def test_device_ids_are_stored_only_hashed(client: Any) -> None:
    device = new_device()
    body = await device_login(client, device, 201)
    devices = client.app[STORE].devices
    docs = [d async for d in devices.find({})]
    assert docs and all(device not in str(d) for d in docs)
    assert await devices.find_one({"_id": device_key(device)}) is not None
    assert device_key(device) == hashlib.sha256(b"elysium device\x00" + device.encode()).hexdigest()
    account = await client.app[STORE].accounts.find_one({"_id": body["account_id"]})
    assert device not in str(account)


async def test_bad_device_ids_are_refused_and_create_nothing(client: Any) -> None:
    accounts = client.app[STORE].accounts
    before = await accounts.count_documents({})
    for bad in ({}, {"device_id": "short-id"}, {"device_id": "x" * 129}, {"device_id": "a" * 15},
                {"device_id": "abcdefghijklmnop/"}, {"device_id": "abcdefghijklmnop qr"}, {"device_id": 1234567890123456},
                {"device_id": "abcdéfghijklmnopq"}, {"device_id": new_device(), "extra": 1}, {"device_id": None}):
        await _problem(await client.post("/v1/auth/device", json=bad), 400, "invalid-request")
    assert await accounts.count_documents({}) == before
    assert await client.app[STORE].devices.count_documents({}) == 0


async def test_parallel_first_logins_with_one_new_device_id_make_one_account(client: Any) -> None:
    device = new_device()
    accounts = client.app[STORE].accounts
    before = await accounts.count_documents({})
    logins = await asyncio.gather(*(device_login(client, device) for _ in range(8)))
    assert len({b["account_id"] for b in logins}) == 1
    assert sum(b["created"] for b in logins) == 1
    assert await accounts.count_documents({}) == before + 1
    account_id = logins[0]["account_id"]
    assert await client.app[STORE].devices.count_documents({"account": account_id}) == 1
    assert await client.app[STORE].wallets.count_documents({"account": account_id}) == 2
    assert await client.app[STORE].ledger.count_documents({"account": account_id, "kind": "signup"}) == 1


async def test_a_guest_links_credentials_a_device_and_a_wallet_and_keeps_everything(client: Any) -> None:
    guest = await device_login(client, new_device(), 201)
    h = guest["headers"]
    bought = await client.post("/v1/purchases", json={"item_id": "speed-boots", "currency": "soft"},
                               headers={**h, "Idempotency-Key": "guest-buys-boots"})
    assert bought.status == 201, await bought.text()
    key = Account.create()
    got = await challenge(client, guest, key.address)
    assert (await link(client, guest, got["message"], sign(key, got["message"]))).status == 200

    resp = await client.post("/v1/me/credentials", json={"username": "Former_Guest", "password": "a good password"},
                             headers=h)
    assert resp.status == 200, await resp.text()
    profile = await resp.json()
    assert (profile["account_id"], profile["username"], profile["guest"]) == (guest["account_id"], "Former_Guest",
                                                                              False)
    assert profile["eth_address"] == key.address

    second = new_device()
    resp = await client.post("/v1/me/devices", json={"device_id": second}, headers=h)
    assert resp.status == 201 and await resp.json() == {"account_id": guest["account_id"], "linked": True}
    resp = await client.post("/v1/me/devices", json={"device_id": second}, headers=h)
    assert resp.status == 200 and (await resp.json())["linked"] is False

    login = await client.post("/v1/sessions", json={"username": "former_guest", "password": "a good password"})
    assert login.status == 200 and (await login.json())["account_id"] == guest["account_id"]
    via_device = await device_login(client, second, 200)
    assert via_device["account_id"] == guest["account_id"]
    items = await (await client.get("/v1/me/items", headers=via_device["headers"])).json()
    assert [i["item_id"] for i in items["items"]] == ["speed-boots"]
    wallet = await (await client.get("/v1/me/wallet", headers=via_device["headers"])).json()
    assert wallet["balances"]["soft"] == 200
    me = await (await client.get("/v1/me", headers=via_device["headers"])).json()
    assert me["eth_address"] == key.address and me["username"] == "Former_Guest"


async def test_taken_usernames_and_devices_are_refused_and_change_nothing(client: Any) -> None:
    taken = await register(client, "Taken_Name")
    guest = await device_login(client, new_device(), 201)
    h = guest["headers"]
    for name in ("Taken_Name", "taken_name"):
        await _problem(await client.post("/v1/me/credentials", json={"username": name, "password": "pass word 12"},
                                         headers=h), 409, "username-taken")
    me = await (await client.get("/v1/me", headers=h)).json()
    assert me["guest"] is True and me["username"] is None
    resp = await client.post("/v1/sessions", json={"username": "Taken_Name", "password": "pass word 12"})
    await _problem(resp, 401, "invalid-credentials")

    for bad in ({"username": "ab", "password": "pass word 12"}, {"username": "guest:x", "password": "pass word 12"},
                {"username": "Good_Name", "password": "short"}, {"username": "Good_Name"}, {}):
        await _problem(await client.post("/v1/me/credentials", json=bad, headers=h), 400, "invalid-request")
    await _problem(await client.post("/v1/me/credentials", json={"username": "Fresh_Name", "password": "pass word 12"},
                                     headers=taken["headers"]), 409, "credentials-exist")
    assert (await (await client.get("/v1/me", headers=taken["headers"])).json())["username"] == "Taken_Name"

    # A device of another account.
    owned = new_device()
    await device_login(client, owned, 201)
    await _problem(await client.post("/v1/me/devices", json={"device_id": owned}, headers=h), 409, "device-taken")
    assert await client.app[STORE].devices.count_documents({"account": guest["account_id"]}) == 1
    await _problem(await client.post("/v1/me/devices", json={"device_id": "bad id"}, headers=h), 400,
                   "invalid-request")
    await _problem(await client.post("/v1/me/devices", json={"device_id": new_device()}), 401, "unauthorized")
    await _problem(await client.post("/v1/me/credentials", json={"username": "Good_Name", "password": "pass word 12"}),
                   401, "unauthorized")


async def test_a_guest_has_no_password_to_log_in_with_or_change(client: Any) -> None:
    guest = await device_login(client, new_device(), 201)
    for username in (f"guest:{guest['account_id']}", f"GUEST:{guest['account_id']}"):
        await _problem(await client.post("/v1/sessions", json={"username": username, "password": "anything"}),
                       401, "invalid-credentials")
    await _problem(await client.post("/v1/me/password", json={"current_password": "x", "new_password": "pass word 12"},
                                     headers=guest["headers"]), 409, "no-credentials")


async def test_an_account_links_a_bounded_number_of_devices_even_at_once(client: Any) -> None:
    p = await register(client)
    h = p["headers"]
    for _ in range(MAX_DEVICES - 1):
        assert (await client.post("/v1/me/devices", json={"device_id": new_device()}, headers=h)).status == 201
    answers = await asyncio.gather(*(client.post("/v1/me/devices", json={"device_id": new_device()}, headers=h)
                                     for _ in range(5)))
    assert sorted(r.status for r in answers) == [201, 409, 409, 409, 409]
    for r in answers:
        if r.status == 409:
            await _problem(r, 409, "device-limit")
    assert await client.app[STORE].devices.count_documents({"account": p["account_id"]}) == MAX_DEVICES


async def test_two_guests_racing_for_one_username_one_gets_it(client: Any) -> None:
    guests = [await device_login(client, new_device(), 201) for _ in range(4)]
    answers = await asyncio.gather(*(client.post("/v1/me/credentials",
                                                 json={"username": "Only_One", "password": "pass word 12"},
                                                 headers=g["headers"]) for g in guests))
    assert sorted(r.status for r in answers) == [200, 409, 409, 409]
    assert await client.app[STORE].accounts.count_documents({"username_lower": "only_one"}) == 1
    winners = [g for g, r in zip(guests, answers, strict=True) if r.status == 200]
    login = await client.post("/v1/sessions", json={"username": "Only_One", "password": "pass word 12"})
    assert (await login.json())["account_id"] == winners[0]["account_id"]


async def test_guest_creation_and_wallet_links_are_logged_without_device_ids_or_tokens(
        client: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    device = new_device()
    guest = await device_login(client, device, 201)
    await device_login(client, device, 200)
    key = Account.create()
    got = await challenge(client, guest, key.address)
    signature = sign(key, got["message"])
    assert (await link(client, guest, got["message"], signature)).status == 200
    assert (await client.delete("/v1/me/wallet", headers=guest["headers"])).status == 204
    lines = _lines(caplog)
    created = [line for line in lines if line["msg"] == "guest account created"]
    assert len(created) == 1 and created[0]["account"] == guest["account_id"]
    assert [(line["msg"], line["eth_address"]) for line in lines if line["msg"].startswith("wallet ")] == [
        ("wallet linked", key.address), ("wallet unlinked", key.address)]
    written = "\n".join(json.dumps(line) for line in lines)
    for secret in (device, device_key(device), guest["access_token"], guest["refresh_token"], signature):
        assert secret not in written
