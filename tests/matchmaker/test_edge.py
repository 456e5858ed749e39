"""The matchmaker behind the shared edge, against hostile input: JSON and tokens."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import redis.asyncio as aioredis


async def raw(port: int, request: bytes) -> tuple[int, dict[str, Any]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


@pytest.mark.parametrize("request_line", [b"GET /v1/players/me/ratings", b"POST /v1/tickets",
                                          b"POST /v1/parties", b"GET /v1/tickets/t-1"])
async def test_a_bearer_token_with_a_non_utf8_byte_is_401(mm: Any, rclient: aioredis.Redis,
                                                          request_line: bytes) -> None:
    before = await rclient.dbsize()
    status, body = await raw(mm.server.port, request_line + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                             b"Content-Type: application/json\r\nContent-Length: 2\r\n"
                             b"Authorization: Bearer \x90\r\n\r\n{}")
    assert status == 401 and body["code"] == "invalid-token" and body["token_error"] == "token_malformed", body
    assert await rclient.dbsize() == before


@pytest.mark.parametrize("body, words", [
    (b"[" * 8000 + b"]" * 8000, "nest at most 32 deep"),
    (b'{"mode":"arena","regions":{"local":20},"mode":"duel"}', "appears twice"),
    (b'{"mode":"arena","regions":{"local":20,"local":900}}', "appears twice"),
])
async def test_hostile_ticket_bodies_are_400_and_change_nothing(mm: Any, auth: Any, rclient: aioredis.Redis,
                                                                body: bytes, words: str) -> None:
    before = await rclient.dbsize()
    resp = await mm.post("/v1/tickets", data=body, headers={**auth("bob"), "Content-Type": "application/json"})
    assert resp.status == 400 and resp.content_type == "application/problem+json", await resp.text()
    found = await resp.json()
    assert found["code"] == "invalid-json" and words in found["detail"]
    assert await rclient.dbsize() == before


GAME = "https://play.example.com"


async def test_cors_when_origins_are_configured(mm_factory: Any, auth: Any) -> None:
    mm = await mm_factory(cors_origins=(GAME,))
    pre = await mm.options("/v1/tickets", headers={"Origin": GAME, "Access-Control-Request-Method": "POST"})
    assert pre.status == 204 and pre.headers["Access-Control-Allow-Origin"] == GAME
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    resp = await mm.post("/v1/tickets", json={"mode": "arena", "regions": {"local": 20}},
                         headers={**auth("carol"), "Origin": GAME})
    assert resp.status == 201 and resp.headers["Access-Control-Allow-Origin"] == GAME
    assert "Location" in resp.headers["Access-Control-Expose-Headers"]
