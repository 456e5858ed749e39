"""The relay's HTTP and watch edge against hostile input: numbers, CORS, methods."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from elysium.ws import envelope
from spectator.client import SpectatorClient
from tests.gameserver.rawclient import http_exchange, problem_of
from tests.spectator.conftest import SyntheticFeed, watch_url

MATCH = "edge-1"


@pytest.fixture
async def live_feed(redis_url: str) -> AsyncIterator[SyntheticFeed]:
    client = aioredis.from_url(redis_url)
    synthetic = SyntheticFeed(client, MATCH)
    synthetic.describe()
    synthetic.append("k", envelope.pack({"t": "keyframe", "n": 0, "ts": 0, "players": [], "objects": [],
                                         "roster": [], "a": []}))
    await synthetic.flush()
    yield synthetic
    await client.aclose()


def get(path: str, headers: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode()


@pytest.mark.parametrize("limit", ["%C2%B2", "%D9%A1", "%EF%BC%95", "+5", "%205", "1_0", "", "9" * 40])
async def test_a_listing_limit_that_is_not_ascii_digits_is_answered_400(relay: Any, limit: str) -> None:
    answer = await http_exchange(relay.port, get(f"/v1/matches?limit={limit}"))
    body = problem_of(answer, 400, "bad-request")
    assert body["detail"] == "limit must be a whole number from 1 to 200" and body["instance"] == "/v1/matches"


async def test_a_listing_with_a_plain_limit_still_answers(relay: Any, live_feed: SyntheticFeed) -> None:
    answer = await http_exchange(relay.port, get("/v1/matches?limit=5"))
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert [m["match_id"] for m in json.loads(answer.partition(b"\r\n\r\n")[2])["live"]] == [MATCH]


@pytest.mark.parametrize("query", ["from=%C2%B2", "from=%D9%A1", "delay=%C2%B2", "delay=1e1", "speed=%EF%BC%94"])
async def test_a_watch_number_that_is_not_ascii_digits_gets_an_error_frame(relay: Any, live_feed: SyntheticFeed,
                                                                          query: str) -> None:
    spectator = SpectatorClient(watch_url(relay, MATCH, query))
    await spectator.connect()
    msg = await spectator.recv(5)
    assert msg["t"] == "error" and msg["code"] == "bad_request" and query.split("=")[0] in msg["msg"]
    await spectator.watch_until_closed(10)
    assert spectator.close_code == 1008 and relay.watching == 0


WS_HEAD = ("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n")


@pytest.mark.parametrize("method, path, headers", [
    ("POST", "/v1/matches", "Content-Length: 0\r\n"),
    ("DELETE", "/healthz", ""),
    ("POST", f"/v1/watch/{MATCH}", WS_HEAD),
    ("PUT", f"/v1/watch/{MATCH}", "Content-Length: 0\r\n"),
])
async def test_a_wrong_method_is_405_with_allow(relay: Any, method: str, path: str, headers: str) -> None:
    answer = await http_exchange(relay.port, f"{method} {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
    problem_of(answer, 405, "method-not-allowed")
    assert b"\r\nAllow: GET\r\n" in answer.partition(b"\r\n\r\n")[0]


GAME = "https://play.example.com"


def headers_of(answer: bytes) -> dict[str, str]:
    lines = answer.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")[1:]
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines)}


async def test_cors_on_the_relays_listing_and_probes(relay_factory: Any, live_feed: SyntheticFeed) -> None:
    relay = await relay_factory(cors_origins=(GAME,))
    for path in ("/v1/matches", "/healthz", "/nowhere"):
        h = headers_of(await http_exchange(relay.port, get(path, f"Origin: {GAME}\r\n")))
        assert h["Access-Control-Allow-Origin"] == GAME and h["Vary"] == "Origin", path
        assert {"X-Request-Id", "Retry-After"} <= set(h["Access-Control-Expose-Headers"].split(", "))
    other = headers_of(await http_exchange(relay.port, get("/v1/matches", "Origin: https://evil.example\r\n")))
    assert "Access-Control-Allow-Origin" not in other and other["Vary"] == "Origin"
    preflight = await http_exchange(relay.port, f"OPTIONS /v1/matches HTTP/1.1\r\nHost: x\r\nOrigin: {GAME}\r\n"
                                    "Access-Control-Request-Method: GET\r\n\r\n".encode())
    assert preflight.startswith(b"HTTP/1.1 204 ")
    h = headers_of(preflight)
    assert h["Access-Control-Allow-Origin"] == GAME and h["Access-Control-Allow-Methods"] == "GET"
    assert "Authorization" in h["Access-Control-Allow-Headers"] and int(h["Access-Control-Max-Age"]) > 0
    refused = await http_exchange(relay.port, b"OPTIONS /v1/matches HTTP/1.1\r\nHost: x\r\n"
                                  b"Origin: https://evil.example\r\nAccess-Control-Request-Method: GET\r\n\r\n")
    problem_of(refused, 403, "forbidden")


async def test_no_cors_headers_on_the_relay_by_default(relay: Any) -> None:
    answer = await http_exchange(relay.port, get("/v1/matches", f"Origin: {GAME}\r\n"))
    assert b"Access-Control-" not in answer and b"Vary" not in answer
    preflight = await http_exchange(relay.port, f"OPTIONS /v1/matches HTTP/1.1\r\nHost: x\r\nOrigin: {GAME}\r\n"
                                    "Access-Control-Request-Method: GET\r\n\r\n".encode())
    problem_of(preflight, 405, "method-not-allowed")
