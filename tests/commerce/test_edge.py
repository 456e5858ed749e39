"""Commerce behind the shared edge, against hostile input: numbers, JSON, tokens."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.commerce.conftest import make_settings, register
from tests.commerce.test_accounts import _problem

LOOSE_LIMITS = ["²", "١٢", "１２", " 5", "+5", "1_0", "", "9" * 40]


@pytest.mark.parametrize("path", ["/v1/me/ledger", "/v1/me/items"])
@pytest.mark.parametrize("limit", LOOSE_LIMITS)
async def test_a_limit_that_is_not_ascii_digits_is_400(client: Any, path: str, limit: str) -> None:
    p = await register(client)
    body = await _problem(await client.get(path, params={"limit": limit}, headers=p["headers"]), 400,
                          "invalid-request")
    assert body["detail"] == "limit must be a whole number from 1 to 200" and body["errors"] == {"limit": "1..200"}


@pytest.mark.parametrize("path", ["/v1/me/ledger", "/v1/me/items"])
async def test_a_plain_limit_still_pages(client: Any, path: str) -> None:
    p = await register(client)
    resp = await client.get(path, params={"limit": "007"}, headers=p["headers"])
    assert resp.status == 200, await resp.text()


async def raw_get(port: int, path: str, authorization: bytes) -> tuple[int, dict[str, Any]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".encode()
                 + b"Authorization: " + authorization + b"\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


@pytest.mark.parametrize("path", ["/v1/me", "/v1/me/wallet", "/v1/me/items", "/v1/me/ledger"])
async def test_a_bearer_token_with_a_non_utf8_byte_is_401(client: Any, path: str) -> None:
    status, body = await raw_get(client.server.port, path, b"Bearer \x90")
    assert status == 401 and body["code"] == "invalid-token" and body["token_error"] == "token_malformed", body


@pytest.mark.parametrize("body, words", [
    (b"[" * 8000 + b"]" * 8000, "nest at most 32 deep"),
    (b'{"item_id":"health-potion","currency":"soft","currency":"premium"}', "appears twice"),
])
async def test_hostile_purchase_bodies_are_400_and_change_nothing(client: Any, body: bytes, words: str) -> None:
    p = await register(client)
    resp = await client.post("/v1/purchases", data=body, headers={
        **p["headers"], "Content-Type": "application/json", "Idempotency-Key": "hostile-1"})
    found = await _problem(resp, 400, "invalid-json")
    assert words in found["detail"]
    wallet = await (await client.get("/v1/me/wallet", headers=p["headers"])).json()
    items = await (await client.get("/v1/me/items", headers=p["headers"])).json()
    assert wallet["balances"] == {"soft": 500, "premium": 0} and items["items"] == []


GAME = "https://play.example.com"


async def test_cors_when_origins_are_configured(client_for: Any, mongo_url: str, mongo_db_name: str, redis_url: str,
                                                keys_dir: Any) -> None:
    client = await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, cors_origins=(GAME,)))
    pre = await client.options("/v1/purchases", headers={"Origin": GAME, "Access-Control-Request-Method": "POST",
                                                         "Access-Control-Request-Headers": "idempotency-key"})
    assert pre.status == 204 and pre.headers["Access-Control-Allow-Origin"] == GAME
    assert "Idempotency-Key" in pre.headers["Access-Control-Allow-Headers"]
    p = await register(client)
    wallet = await client.get("/v1/me/wallet", headers={**p["headers"], "Origin": GAME})
    assert wallet.status == 200 and wallet.headers["Access-Control-Allow-Origin"] == GAME
