"""Linking a wallet with Sign-In with Ethereum through the real app, with real signatures made by
eth-account keys: every refusal changes nothing, and the challenge still links afterwards."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from commerce import siwe
from commerce.appkeys import STORE
from commerce.identity_api import WALLET_LINKS
from commerce.settings import CommerceSettings
from tests.commerce.conftest import register
from tests.commerce.test_accounts import _problem

CHAIN_ID = 131277322940537


def sign(key: LocalAccount, text: str) -> str:
    return "0x" + bytes(key.sign_message(encode_defunct(text=text)).signature).hex()


async def challenge(client: Any, player: dict[str, Any], address: str) -> dict[str, Any]:
    resp = await client.post("/v1/me/wallet/challenge", json={"address": address}, headers=player["headers"])
    assert resp.status == 201, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def link(client: Any, player: dict[str, Any], message: str, signature: str) -> Any:
    return await client.post("/v1/me/wallet/link", json={"message": message, "signature": signature},
                             headers=player["headers"])


async def linked(client: Any, player: dict[str, Any]) -> str | None:
    me = await (await client.get("/v1/me", headers=player["headers"])).json()
    address: str | None = me["eth_address"]
    return address


def reworded(text: str, **changes: Any) -> str:
    return siwe.render(dataclasses.replace(siwe.parse(text), **changes))


async def test_a_signed_challenge_links_the_address_once(client: Any, settings: CommerceSettings) -> None:
    p = await register(client)
    key = Account.create()
    got = await challenge(client, p, key.address.lower())  # any case in; the message is in checksum case
    m = siwe.parse(got["message"])
    assert (m.domain, m.address, m.chain_id, m.version, m.nonce) == (settings.siwe_domain, key.address, CHAIN_ID,
                                                                     "1", got["nonce"])
    assert settings.chain_id == CHAIN_ID and got["chain_id"] == CHAIN_ID and got["address"] == key.address
    assert (got["uri"], got["statement"]) == (m.uri, m.statement)
    assert got["issued_at"] == siwe.format_time(m.issued_at)
    assert m.expiration_time is not None and got["expiration_time"] == siwe.format_time(m.expiration_time)
    assert m.expiration_time - m.issued_at == timedelta(seconds=settings.siwe_challenge_ttl_s)
    assert len(m.nonce) >= 16

    signature = sign(key, got["message"])
    resp = await link(client, p, got["message"], signature)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["eth_address"] == key.address
    assert await linked(client, p) == key.address
    doc = await client.app[STORE].accounts.find_one({"_id": p["account_id"]})
    assert doc["eth_address"] == key.address

    # The same message and signature again: the nonce is spent.
    await _problem(await link(client, p, got["message"], signature), 422, "siwe-nonce")


async def test_every_bad_message_is_refused_and_the_challenge_still_links(client: Any) -> None:
    p = await register(client)
    key, other = Account.create(), Account.create()
    got = await challenge(client, p, key.address)
    text = got["message"]
    wall = client.app[WALLET_LINKS]
    m = siwe.parse(text)
    assert m.expiration_time is not None
    cases: list[tuple[str, str, int, str]] = [
        (text, sign(other, text), 422, "siwe-signature"),  # another key's signature
        (text, "0x" + "11" * 64 + "1b", 422, "siwe-signature"),  # no key's signature
        (text, "0x" + "ff" * 65, 422, "siwe-signature"),  # out of the curve's range
        (text + " ", sign(key, text + " "), 400, "siwe-message-invalid"),  # signed, but off the grammar
        (text + "\n", sign(key, text + "\n"), 400, "siwe-message-invalid"),
        (text.replace("\n", "\r\n"), sign(key, text.replace("\n", "\r\n")), 400, "siwe-message-invalid"),
        (reworded(text, domain="evil.example"), sign(key, reworded(text, domain="evil.example")), 422,
         "siwe-domain"),
        (reworded(text, scheme="http"), sign(key, reworded(text, scheme="http")), 422, "siwe-domain"),
        (reworded(text, chain_id=1), sign(key, reworded(text, chain_id=1)), 422, "siwe-chain-id"),
        (reworded(text, nonce="abcdefgh1234"), sign(key, reworded(text, nonce="abcdefgh1234")), 422, "siwe-nonce"),
        (reworded(text, address=other.address), sign(other, reworded(text, address=other.address)), 422,
         "siwe-address"),
        (reworded(text, statement="Another statement."), sign(key, text), 422, "siwe-signature"),
        (reworded(text, not_before=m.issued_at + timedelta(minutes=1)),
         sign(key, reworded(text, not_before=m.issued_at + timedelta(minutes=1))), 422, "siwe-not-yet-valid"),
    ]
    for message, signature, status, code in cases:
        body = await _problem(await link(client, p, message, signature), status, code)
        assert body["detail"], code
        assert await linked(client, p) is None, code

    # The message's times, against the service's clock.
    wall.clock = lambda: m.expiration_time
    await _problem(await link(client, p, text, sign(key, text)), 422, "siwe-expired")
    wall.clock = lambda: m.issued_at - timedelta(seconds=1)
    await _problem(await link(client, p, text, sign(key, text)), 422, "siwe-not-yet-valid")
    wall.clock = lambda: m.expiration_time - timedelta(seconds=1)
    assert await linked(client, p) is None

    resp = await link(client, p, text, sign(key, text))
    assert resp.status == 200, await resp.text()
    assert await linked(client, p) == key.address


async def test_malformed_requests_are_refused(client: Any) -> None:
    p = await register(client)
    key = Account.create()
    h = p["headers"]
    for bad in ({}, {"address": "0x1234"}, {"address": key.address[:-1] + "g"}, {"address": 5},
                {"address": key.address.swapcase().replace("0X", "0x")}, {"address": key.address, "x": 1}):
        await _problem(await client.post("/v1/me/wallet/challenge", json=bad, headers=h), 400, "invalid-request")
    got = await challenge(client, p, key.address)
    for bad in ({"message": got["message"]}, {"message": got["message"], "signature": "0x1234"},
                {"message": "", "signature": sign(key, "")},
                {"message": got["message"], "signature": sign(key, got["message"])[2:]},
                {"message": "x" * (siwe.MAX_MESSAGE_CHARS + 1), "signature": sign(key, got["message"])}):
        await _problem(await client.post("/v1/me/wallet/link", json=bad, headers=h), 400, "invalid-request")
    body = await _problem(await link(client, p, got["message"].replace("Version: 1", "Version: 2"),
                                     sign(key, got["message"])), 400, "siwe-message-invalid")
    assert body["errors"]["message"].startswith("line 7: the version must be 1")
    for method, path in (("POST", "/v1/me/wallet/challenge"), ("POST", "/v1/me/wallet/link"),
                         ("DELETE", "/v1/me/wallet")):
        await _problem(await client.request(method, path, json={}), 401, "unauthorized")
    assert await linked(client, p) is None


async def test_a_challenge_is_the_players_own_and_the_latest_only(client: Any) -> None:
    a, b = await register(client), await register(client)
    key = Account.create()
    b_got = await challenge(client, b, key.address)
    # B's message, signed by the key, presented by A (who has no challenge, then one of its own).
    await _problem(await link(client, a, b_got["message"], sign(key, b_got["message"])), 422, "siwe-nonce")
    await challenge(client, a, key.address)
    await _problem(await link(client, a, b_got["message"], sign(key, b_got["message"])), 422, "siwe-nonce")
    # A new challenge replaces B's first one.
    b_next = await challenge(client, b, key.address)
    await _problem(await link(client, b, b_got["message"], sign(key, b_got["message"])), 422, "siwe-nonce")
    assert (await link(client, b, b_next["message"], sign(key, b_next["message"]))).status == 200
    assert (await linked(client, a), await linked(client, b)) == (None, key.address)


async def test_an_address_links_to_one_account_and_an_account_to_one_address(client: Any) -> None:
    a, b = await register(client), await register(client)
    key, second = Account.create(), Account.create()
    got = await challenge(client, a, key.address)
    assert (await link(client, a, got["message"], sign(key, got["message"]))).status == 200

    got = await challenge(client, b, key.address)
    await _problem(await link(client, b, got["message"], sign(key, got["message"])), 409, "wallet-taken")
    assert await linked(client, b) is None
    got = await challenge(client, a, second.address)
    await _problem(await link(client, a, got["message"], sign(second, got["message"])), 409, "wallet-already-linked")
    assert await linked(client, a) == key.address
    # Linking the linked address again is a success that changes nothing.
    got = await challenge(client, a, key.address)
    resp = await link(client, a, got["message"], sign(key, got["message"]))
    assert resp.status == 200 and (await resp.json())["eth_address"] == key.address

    # Unlinked, the address is free for another account.
    assert (await client.delete("/v1/me/wallet", headers=a["headers"])).status == 204
    assert await linked(client, a) is None
    await _problem(await client.delete("/v1/me/wallet", headers=a["headers"]), 409, "wallet-not-linked")
    got = await challenge(client, b, key.address)
    assert (await link(client, b, got["message"], sign(key, got["message"]))).status == 200
    assert await linked(client, b) == key.address


async def test_unlinking_is_refused_while_an_item_is_being_withdrawn(client: Any) -> None:
    p = await register(client)
    key = Account.create()
    got = await challenge(client, p, key.address)
    assert (await link(client, p, got["message"], sign(key, got["message"]))).status == 200
    items = client.app[STORE].items
    await items.insert_one({"_id": "ab" * 16, "owner": p["account_id"], "item_id": "speed-boots",
                            "custody": "withdrawing", "created_at": datetime.now(UTC)})
    await _problem(await client.delete("/v1/me/wallet", headers=p["headers"]), 409, "wallet-busy")
    assert await linked(client, p) == key.address
    await items.update_one({"_id": "ab" * 16}, {"$set": {"custody": "on_chain"}})
    assert (await client.delete("/v1/me/wallet", headers=p["headers"])).status == 204


async def test_one_message_sent_twice_at_once_links_once(client: Any) -> None:
    p = await register(client)
    key = Account.create()
    got = await challenge(client, p, key.address)
    signature = sign(key, got["message"])
    answers = await asyncio.gather(*(link(client, p, got["message"], signature) for _ in range(6)))
    statuses = sorted(r.status for r in answers)
    assert statuses == [200] + [422] * 5, statuses
    for r in answers:
        if r.status == 422:
            await _problem(r, 422, "siwe-nonce")


async def test_two_accounts_linking_one_address_at_once_one_wins(client: Any) -> None:
    players = [await register(client) for _ in range(4)]
    key = Account.create()
    got = [await challenge(client, p, key.address) for p in players]
    answers = await asyncio.gather(*(link(client, p, g["message"], sign(key, g["message"]))
                                     for p, g in zip(players, got, strict=True)))
    assert sorted(r.status for r in answers) == [200, 409, 409, 409]
    holders = [p for p in players if await linked(client, p) == key.address]
    assert len(holders) == 1
    assert await client.app[STORE].accounts.count_documents({"eth_address": key.address}) == 1
