"""Withdraw and deposit through the real app, against the embedded chain over JSON-RPC."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from pymongo import AsyncMongoClient

from commerce.chain.adapter import Chain
from commerce.chain.custody import Custody
from commerce.chain.errors import ChainRevert
from commerce.chain.tokens import type_token, unique_token
from commerce.withdrawals_api import CUSTODY
from tests.commerce.chain.chains import ChainProcess, chain_settings
from tests.commerce.conftest import make_settings, register

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def app(client_for: Any, mongo_url: str, mongo_db_name: str, redis_url: str, keys_dir: Path,
              chain_process: ChainProcess) -> Client:
    c: Client = await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir,
                                               **chain_settings(chain_process)))
    return c


@pytest.fixture
async def db(mongo_url: str, mongo_db_name: str) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    yield client[mongo_db_name]
    await client.close()


async def player_with(app: Client, db: Any, item: str = "health-potion", *,
                      linked: bool = True) -> tuple[dict[str, Any], LocalAccount, str]:
    """A new player owning one ``item`` (bought), with a linked wallet unless told otherwise."""
    p = await register(app)
    wallet = Account.create()
    if linked:  # what POST /v1/me/wallet/link records (k-accounts); set directly here
        await db["accounts"].update_one({"_id": p["account_id"]}, {"$set": {"eth_address": wallet.address}})
    r = await app.post("/v1/purchases", json={"item_id": item, "currency": "soft"},
                       headers={**p["headers"], "Idempotency-Key": f"buy-{item}"})
    assert r.status == 201, await r.text()
    return p, wallet, (await r.json())["items"][0]


async def withdraw(app: Client, p: dict[str, Any], item: str, key: str = "w1") -> tuple[int, dict[str, Any]]:
    r = await app.post(f"/v1/me/items/{item}/withdraw", headers={**p["headers"], "Idempotency-Key": key})
    return r.status, await r.json()


async def custody_of(db: Any, item: str) -> str:
    doc = await db["items"].find_one({"_id": item})
    return str(doc["custody"])


def chain_of(app: Client) -> Chain:
    chain: Chain = app.app[CUSTODY].chain
    return chain


async def until(check: Any, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_withdraw_mints_to_the_linked_address_and_the_item_is_on_chain(app: Client, db: Any) -> None:
    p, wallet, item = await player_with(app, db)
    status, body = await withdraw(app, p, item)
    assert status == 201, body
    assert body["state"] == "on_chain" and body["to"] == wallet.address and body["tx_hash"]
    assert body["token_id"] == str(type_token("health-potion"))
    assert await custody_of(db, item) == "on_chain"
    chain = chain_of(app)
    assert await chain.items.functions.balanceOf(wallet.address, type_token("health-potion")).call() == 1
    r = await app.get(f"/v1/me/withdrawals/{body['id']}", headers=p["headers"])
    assert (await r.json())["state"] == "on_chain"
    provenance = (await db["items"].find_one({"_id": item}))["provenance"]
    assert provenance[-1]["kind"] == "withdrawal" and provenance[-1]["tx"] == body["tx_hash"]


async def test_a_retry_with_the_same_key_answers_the_same_withdrawal_and_mints_once(app: Client, db: Any) -> None:
    p, wallet, item = await player_with(app, db)
    first = await withdraw(app, p, item)
    again = await withdraw(app, p, item)
    assert again[0] == 200 and again[1]["id"] == first[1]["id"] and again[1]["tx_hash"] == first[1]["tx_hash"]
    chain = chain_of(app)
    assert await chain.items.functions.balanceOf(wallet.address, type_token("health-potion")).call() == 1


async def test_a_unique_item_is_its_own_token(app: Client, db: Any) -> None:
    p, wallet, item = await player_with(app, db, "speed-boots")
    status, body = await withdraw(app, p, item)
    assert status == 201 and body["state"] == "on_chain", body
    assert body["token_id"] == str(unique_token(item))
    assert await chain_of(app).items.functions.balanceOf(wallet.address, unique_token(item)).call() == 1


@pytest.mark.parametrize("custody,code", [("listed", "item-listed"), ("escrow", "item-in-escrow"),
                                          ("on_chain", "item-on-chain"), ("withdrawing", "item-on-chain")])
async def test_an_item_not_in_game_is_refused_and_nothing_changes(app: Client, db: Any, custody: str,
                                                                  code: str) -> None:
    p, _, item = await player_with(app, db)
    await db["items"].update_one({"_id": item}, {"$set": {"custody": custody}})
    status, body = await withdraw(app, p, item)
    assert status == 409 and body["type"].endswith(code), body
    assert await custody_of(db, item) == custody
    assert await db["withdrawals"].count_documents({}) == 0


async def test_a_foreign_item_is_not_found(app: Client, db: Any) -> None:
    _, _, item = await player_with(app, db)
    other = await register(app)
    status, body = await withdraw(app, other, item)
    assert status == 404 and body["type"].endswith("unknown-owned-item")
    assert await custody_of(db, item) == "in_game"


async def test_an_unlinked_wallet_is_refused(app: Client, db: Any) -> None:
    p, _, item = await player_with(app, db, linked=False)
    status, body = await withdraw(app, p, item)
    assert status == 409 and body["type"].endswith("wallet-not-linked")
    assert await custody_of(db, item) == "in_game"


async def test_a_malformed_item_id_and_a_missing_key_are_refused(app: Client, db: Any) -> None:
    p, _, item = await player_with(app, db)
    r = await app.post("/v1/me/items/nope/withdraw", headers={**p["headers"], "Idempotency-Key": "k"})
    assert r.status == 404
    r = await app.post(f"/v1/me/items/{item}/withdraw", headers=p["headers"])
    assert r.status == 400 and (await r.json())["type"].endswith("idempotency-key-missing")
    r = await app.post(f"/v1/me/items/{item}/withdraw", headers={**p["headers"], "Idempotency-Key": "k"},
                       json={"to": "0x0000000000000000000000000000000000000001"})
    assert r.status == 400
    r = await app.post(f"/v1/me/items/{item}/withdraw", headers={"Idempotency-Key": "k"})
    assert r.status == 401
    assert await custody_of(db, item) == "in_game"


async def test_a_paused_contract_fails_the_withdrawal_and_the_item_is_back_in_game(app: Client, db: Any) -> None:
    p, _, item = await player_with(app, db)
    chain = chain_of(app)
    await chain.transact(chain.items.functions.pause())
    try:
        status, body = await withdraw(app, p, item)
    finally:
        await chain.transact(chain.items.functions.unpause())
    assert status == 201 and body["state"] == "withdraw_failed", body
    assert body["reason"]["code"] == "reverted" and "paused" in body["reason"]["message"]
    assert await custody_of(db, item) == "in_game"
    status, body = await withdraw(app, p, item, key="w2")  # and it can leave once the contract runs again
    assert body["state"] == "on_chain"


async def test_a_transaction_that_reverts_on_chain_fails_with_its_reason(app: Client, db: Any) -> None:
    p, _, item = await player_with(app, db)
    chain = chain_of(app)
    role = await chain.items.functions.MINTER_ROLE().call()
    await chain.transact(chain.items.functions.renounceRole(role, chain.custody))
    try:
        status, body = await withdraw(app, p, item)
    finally:
        await chain.transact(chain.items.functions.grantRole(role, chain.custody))
    assert body["state"] == "withdraw_failed" and "MINTER_ROLE" in body["reason"]["message"], body
    assert await custody_of(db, item) == "in_game"


async def test_a_chain_that_is_down_fails_the_withdrawal_and_the_item_is_back(client_for: Any, mongo_url: str,
                                                                              mongo_db_name: str, redis_url: str,
                                                                              keys_dir: Path, db: Any,
                                                                              tmp_path: Path) -> None:
    from tests.commerce.chain.chains import start_chain

    down = start_chain(tmp_path / "chain")
    try:
        app = await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir,
                                             **chain_settings(down, chain_timeout_s=1.0)))
        p, _, item = await player_with(app, db)
        down.proc.kill()
        down.proc.wait(10)
        status, body = await withdraw(app, p, item)
        assert status == 201 and body["state"] == "withdraw_failed", body
        assert body["reason"]["code"] == "chain-unavailable"
        assert await custody_of(db, item) == "in_game"
    finally:
        down.stop()


async def test_a_deposit_returns_the_item_to_the_depositor(app: Client, db: Any) -> None:
    p, wallet, item = await player_with(app, db, "speed-boots")
    _, body = await withdraw(app, p, item)
    chain = chain_of(app)
    await fund_and_send(chain, wallet, unique_token(item))
    await until(lambda: _custody_is(db, item, "in_game"))
    doc = await db["items"].find_one({"_id": item})
    assert doc["owner"] == p["account_id"] and doc["provenance"][-1]["kind"] == "deposit"
    # It can leave again: the custody key holds its one token and hands it over.
    status, again = await withdraw(app, p, item, key="w2")
    assert again["state"] == "on_chain", again
    assert await chain.items.functions.balanceOf(wallet.address, unique_token(item)).call() == 1


async def test_a_deposit_from_another_players_address_gives_them_the_item(app: Client, db: Any) -> None:
    p, wallet, item = await player_with(app, db)
    q, other_wallet, _ = await player_with(app, db)
    await withdraw(app, p, item)
    chain = chain_of(app)
    token = type_token("health-potion")
    await fund(chain, wallet)
    await send_tokens(chain, wallet, other_wallet.address, token, 1)  # a sale on chain, say
    await fund_and_send(chain, other_wallet, token)
    await until(lambda: _custody_is(db, item, "in_game"))
    assert (await db["items"].find_one({"_id": item}))["owner"] == q["account_id"]


async def _held_from_a_stranger(app: Client, db: Any) -> tuple[str, LocalAccount]:
    """An item withdrawn, sold on chain to an address no account links, and deposited from it."""
    p, wallet, item = await player_with(app, db)
    await withdraw(app, p, item)
    chain = chain_of(app)
    token = type_token("health-potion")
    stranger = Account.create()
    await fund(chain, wallet)
    await send_tokens(chain, wallet, stranger.address, token, 1)
    await fund_and_send(chain, stranger, token)
    await until(lambda: _custody_is(db, item, "held"))
    return item, stranger


async def test_a_held_deposit_comes_home_when_its_sender_links_the_wallet(app: Client, db: Any) -> None:
    item, stranger = await _held_from_a_stranger(app, db)
    newcomer = await register(app)
    got = await app.post("/v1/me/wallet/challenge", json={"address": stranger.address}, headers=newcomer["headers"])
    assert got.status == 201, await got.text()
    message = (await got.json())["message"]
    signature = "0x" + bytes(stranger.sign_message(encode_defunct(text=message)).signature).hex()
    linked = await app.post("/v1/me/wallet/link", json={"message": message, "signature": signature},
                            headers=newcomer["headers"])
    assert linked.status == 200, await linked.text()
    # At once, in the link's own request: the item is the newcomer's, in the game.
    doc = await db["items"].find_one({"_id": item})
    assert (doc["custody"], doc["owner"], doc.get("chain")) == ("in_game", newcomer["account_id"], None)
    assert doc["provenance"][-1]["kind"] == "claim"
    deposit = await db["deposits"].find_one({"items": item})
    assert deposit["account"] == newcomer["account_id"]
    assert await app.app[CUSTODY].claim_held() == []  # claimed once


async def test_a_link_whose_claim_was_cut_short_is_finished_by_the_reconciler(app: Client, db: Any) -> None:
    item, stranger = await _held_from_a_stranger(app, db)
    newcomer = await register(app)
    # The link was written and the process died before its claim: the reconciler's round claims it.
    await db["accounts"].update_one({"_id": newcomer["account_id"]}, {"$set": {"eth_address": stranger.address}})
    await until(lambda: _custody_is(db, item, "in_game"))
    assert (await db["items"].find_one({"_id": item}))["owner"] == newcomer["account_id"]


async def test_a_deposit_is_taken_once_by_two_reconcilers(app: Client, db: Any) -> None:
    p, wallet, item = await player_with(app, db)
    await withdraw(app, p, item)
    custody = app.app[CUSTODY]
    chain = custody.chain
    await fund_and_send(chain, wallet, type_token("health-potion"))
    twin = Custody(custody.store, chain, "twin", 0, custody.from_block)
    await asyncio.gather(custody.follow_deposits(), twin.follow_deposits(), custody.follow_deposits())
    assert await custody_of(db, item) == "in_game"
    assert await db["deposits"].count_documents({"items": item}) == 1
    returned = [e for e in (await db["items"].find_one({"_id": item}))["provenance"] if e["kind"] == "deposit"]
    assert len(returned) == 1


async def _custody_is(db: Any, item: str, custody: str) -> bool:
    return await custody_of(db, item) == custody


async def fund(chain: Chain, wallet: LocalAccount) -> None:
    """Give a player's address gas money from the custody key."""
    signed = chain._account.sign_transaction({
        "to": wallet.address, "value": 10**18, "gas": 21000, "maxFeePerGas": 3 * 10**9,
        "maxPriorityFeePerGas": 10**9, "chainId": chain.chain_id,
        "nonce": await chain.w3.eth.get_transaction_count(chain.custody, "pending")})
    chain._next_nonce = None
    await chain.w3.eth.wait_for_transaction_receipt(await chain.w3.eth.send_raw_transaction(signed.raw_transaction))


async def send_tokens(chain: Chain, wallet: LocalAccount, to: str, token: int, amount: int) -> None:
    """The player moves tokens themselves (signed by their own key)."""
    call = chain.items.functions.safeTransferFrom(wallet.address, to, token, amount, b"")
    tx = await call.build_transaction({"from": wallet.address, "chainId": chain.chain_id,
                                       "nonce": await chain.w3.eth.get_transaction_count(wallet.address)})
    signed = wallet.sign_transaction(tx)  # type: ignore[arg-type]
    receipt = await chain.w3.eth.wait_for_transaction_receipt(
        await chain.w3.eth.send_raw_transaction(signed.raw_transaction))
    if receipt["status"] != 1:
        raise ChainRevert("Reverted", (), "the player's transfer reverted")


async def fund_and_send(chain: Chain, wallet: LocalAccount, token: int) -> None:
    if await chain.w3.eth.get_balance(wallet.address) == 0:
        await fund(chain, wallet)
    await send_tokens(chain, wallet, chain.custody, token, 1)


async def test_the_audit_holds_after_withdrawals_and_deposits_and_sees_both_and_neither(
        client_for: Any, mongo_url: str, mongo_db_name: str, redis_url: str, keys_dir: Path, db: Any,
        own_chain: ChainProcess) -> None:
    # A chain of its own: the audit compares one database with the chain's whole supply.
    app = await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, **chain_settings(own_chain)))
    custody = app.app[CUSTODY]
    p, wallet, potion = await player_with(app, db)
    _, _, boots = await player_with(app, db, "speed-boots")
    await withdraw(app, p, potion)
    problems, counts = await custody.audit()
    assert problems == [] and counts["on_chain"] == 1, problems
    await fund_and_send(custody.chain, wallet, type_token("health-potion"))
    await until(lambda: _custody_is(db, potion, "in_game"))
    problems, _ = await custody.audit()
    assert problems == [], problems

    # Both: an item on chain that the database also puts back in the game.
    await withdraw(app, p, potion, key="w2")
    await db["items"].update_one({"_id": potion}, {"$set": {"custody": "in_game"}, "$unset": {"chain": ""}})
    problems, _ = await custody.audit()
    assert [x.code for x in problems] == ["item_both"], problems
    # Neither: the database says on chain, but no player holds the token.
    await db["items"].update_one({"_id": boots}, {"$set": {"custody": "on_chain",
                                                           "chain": {"token_id": str(unique_token(boots))}}})
    problems, _ = await custody.audit()
    assert sorted(x.code for x in problems) == ["item_both", "item_neither"], problems
