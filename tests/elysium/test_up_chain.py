"""``elysium up`` starts the embedded chain, deploys the item contracts and points commerce at
them: a player links a wallet, buys an item and withdraws it as an NFT; the chain keeps it
across a restart of the whole stack."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import aiohttp
from eth_account import Account
from eth_account.messages import encode_defunct

from commerce.chain.adapter import Chain
from commerce.chain.tokens import type_token
from commerce.cli import embedded_chain_env
from tests.elysium.test_up import start_up, stop
from tests.waiting import until


async def _json(resp: aiohttp.ClientResponse, status: int) -> Any:
    body = await resp.json()
    assert resp.status == status, body
    return body


async def _balance(chain_url: str, state: Path, owner: str, token: int) -> int:
    """The owner's balance of the token on the stack's chain, read with the stack's own settings."""
    env = embedded_chain_env(state / "chain")
    chain = await Chain.connect(chain_url, env["ELYSIUM_CHAIN_KEY_FILE"], int(env["ELYSIUM_CHAIN_ID"]),
                                env["ELYSIUM_CHAIN_ITEMS_ADDRESS"], env["ELYSIUM_CHAIN_RIGHTS_ADDRESS"])
    try:
        balance: int = await chain.items.functions.balanceOf(owner, token).call()
        return balance
    finally:
        await chain.close()


async def test_up_runs_the_chain_and_a_withdrawal_reaches_it(tmp_path: Path) -> None:
    proc, services = start_up(tmp_path, "--bots", "0")
    wallet = Account.create()
    try:
        assert "chain" in services, services
        commerce = services["commerce"]
        async with aiohttp.ClientSession() as s:
            account = await _json(await s.post(f"{commerce}/v1/accounts", json={
                "username": "nft-owner", "password": "correct horse battery"}), 201)
            auth = {"Authorization": f"Bearer {account['access_token']}"}
            challenge = await _json(await s.post(f"{commerce}/v1/me/wallet/challenge",
                                                 json={"address": wallet.address}, headers=auth), 201)
            signature = "0x" + bytes(wallet.sign_message(encode_defunct(text=challenge["message"])).signature).hex()
            await _json(await s.post(f"{commerce}/v1/me/wallet/link", json={
                "message": challenge["message"], "signature": signature}, headers=auth), 200)
            bought = await _json(await s.post(f"{commerce}/v1/purchases", json={
                "item_id": "health-potion", "currency": "soft"}, headers={**auth, "Idempotency-Key": "buy-1"}), 201)
            item = bought["items"][0]
            started = await s.post(f"{commerce}/v1/me/items/{item}/withdraw",
                                   headers={**auth, "Idempotency-Key": "withdraw-1"})
            withdrawal = await started.json()
            assert started.status in (201, 202), withdrawal

            async def on_chain() -> bool:
                got = await _json(await s.get(f"{commerce}/v1/me/withdrawals/{withdrawal['id']}", headers=auth), 200)
                assert got["state"] != "withdraw_failed", got
                return bool(got["state"] == "on_chain")

            await until(on_chain, timeout_s=30, what="the withdrawal on chain")
        assert await _balance(services["chain"], tmp_path, wallet.address, type_token("health-potion")) == 1
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=90)
        assert proc.returncode == 0
    finally:
        stop(proc)

    # The whole stack again on the same state folder: the chain replays its journal, the
    # contracts are where they were and the token is still the player's.
    proc, services = start_up(tmp_path, "--bots", "0")
    try:
        assert await _balance(services["chain"], tmp_path, wallet.address, type_token("health-potion")) == 1
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=90)
        stop(proc)
