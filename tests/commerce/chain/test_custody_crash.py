"""Commerce killed (SIGKILL) at each step of a withdrawal and started again: the reconciler resolves it.

``ELYSIUM_CHAIN_FAULT`` makes the process kill itself at the named step; the second process runs
without it. Whatever the step, the item ends on chain (the token at the linked address) or back in
the game (no token), never both and never neither, and ``elysium audit`` (database and chain) passes.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from eth_account import Account
from pymongo import AsyncMongoClient
from web3 import AsyncHTTPProvider, AsyncWeb3

from commerce.chain.artifacts import load_artifact
from commerce.chain.tokens import type_token
from elysium import procs
from tests.commerce.chain.chains import ChainProcess, chain_env
from tests.commerce.test_cli import _env

OUTCOME = {"before_sign": "withdraw_failed", "before_send": "on_chain", "after_send": "on_chain",
           "after_receipt": "on_chain"}


def _start(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "elysium", "commerce", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


async def _listening(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    line = await asyncio.to_thread(proc.stdout.readline)
    assert line and json.loads(line)["event"] == "listening", line


@pytest.mark.parametrize("step", list(OUTCOME))
async def test_a_withdrawal_killed_at_each_step_is_resolved_on_restart(step: str, own_mongo: procs.Child,
                                                                       mongo_db_name: str, redis_url: str,
                                                                       keys_dir: Path,
                                                                       own_chain: ChainProcess) -> None:
    env = {**_env(own_mongo.url, mongo_db_name, redis_url, keys_dir), **chain_env(own_chain),
           "ELYSIUM_COMMERCE_LEASE_S": "0.5", "ELYSIUM_CHAIN_POLL_S": "0.1"}
    port = procs.free_port()
    first = _start({**env, "ELYSIUM_CHAIN_FAULT": step}, port)
    second: subprocess.Popen[str] | None = None
    wallet = Account.create()
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(own_mongo.url, tz_aware=True)
    db = mongo[mongo_db_name]
    w3 = AsyncWeb3(AsyncHTTPProvider(own_chain.url))
    items = w3.eth.contract(address=str(own_chain.deployment()["items"]), abi=load_artifact("ElysiumItems")["abi"])
    try:
        await _listening(first)
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}",
                                         timeout=aiohttp.ClientTimeout(total=60)) as http:
            async with http.post("/v1/accounts", json={"username": f"crash-{step}", "password": "crash password"}) as r:
                assert r.status == 201, await r.text()
                body = await r.json()
            auth = {"Authorization": f"Bearer {body['access_token']}"}
            await db["accounts"].update_one({"_id": body["account_id"]}, {"$set": {"eth_address": wallet.address}})
            async with http.post("/v1/purchases", json={"item_id": "health-potion", "currency": "soft"},
                                 headers={**auth, "Idempotency-Key": "buy"}) as r:
                assert r.status == 201
                item = (await r.json())["items"][0]
            with pytest.raises(aiohttp.ClientError):  # the process dies mid-request
                async with http.post(f"/v1/me/items/{item}/withdraw",
                                     headers={**auth, "Idempotency-Key": "out"}) as r:
                    await r.read()
        assert first.wait(10) == -9
        assert (await db["items"].find_one({"_id": item}))["custody"] == "withdrawing"

        second = _start(env, port)
        await _listening(second)
        deadline = time.monotonic() + 60
        while (doc := await db["withdrawals"].find_one({"item": item}))["state"] == "withdrawing":
            assert time.monotonic() < deadline, doc
            await asyncio.sleep(0.1)
        assert doc["state"] == OUTCOME[step], doc
        held = await items.functions.balanceOf(wallet.address, type_token("health-potion")).call()
        custody = (await db["items"].find_one({"_id": item}))["custody"]
        assert (custody, held) == (("on_chain", 1) if doc["state"] == "on_chain" else ("in_game", 0))

        # A retry of the request that died answers the resolved withdrawal, and mints nothing more.
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            async with http.post(f"/v1/me/items/{item}/withdraw", headers={**auth, "Idempotency-Key": "out"}) as r:
                assert r.status == 200 and (await r.json())["state"] == doc["state"]
        assert await items.functions.balanceOf(wallet.address, type_token("health-potion")).call() == held

        audit = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "elysium", "audit", "--json"],
                                        env=env, capture_output=True, text=True, timeout=120)
        report = json.loads(audit.stdout)
        assert audit.returncode == 0 and report["ok"], report
        assert report["counts"]["tokens"] >= 1
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(20)
        await mongo.close()
        await w3.provider.disconnect()
