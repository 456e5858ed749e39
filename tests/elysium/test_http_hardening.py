"""The shared HTTP edge against hostile input, served the way services run (``serve.AppService``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web

from elysium import http, serve, tokens

PROBLEM = "application/problem+json"
CACHE = web.AppKey("cache", http.VerifiedTokens)


async def echo(request: web.Request) -> web.Response:
    return http.json_response({"got": await http.read_json(request, 64 * 1024)})


async def me(request: web.Request) -> web.Response:
    claims = request.app[CACHE].claims(http.bearer(request))
    return http.json_response({"sub": claims["sub"]})


async def crash(request: web.Request) -> web.Response:
    raise RuntimeError("a bug")


class Edge:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    async def raw(self, data: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send bytes as they are; the status, headers (lower-case names) and body of the answer."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(data)
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        return int(lines[0].split(" ")[1]), headers, body


@pytest.fixture
async def edge(keys_dir: Path) -> AsyncIterator[Edge]:
    app = http.application(client_max_size=64 * 1024, internal_detail="something went wrong on our side",
                           internal_keyed_detail="nothing was done twice; retry with the same Idempotency-Key")
    verifier = tokens.Verifier(tokens.load_public_key(path=str(keys_dir / "player.pub")))
    app[CACHE] = http.VerifiedTokens(verifier, tokens.PLAYER_AUDIENCE)
    app.router.add_post("/v1/echo", echo)
    app.router.add_get("/v1/me", me)
    app.router.add_route("*", "/v1/crash", crash)
    service = serve.AppService(app, "127.0.0.1", 0, shutdown_timeout_s=1.0)
    await service.start(None)
    yield Edge(service.port)
    await service.drain_and_stop()


async def problem(resp: aiohttp.ClientResponse, status: int, code: str) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == PROBLEM
    body: dict[str, Any] = await resp.json()
    assert body["code"] == code and body["type"] == f"urn:elysium:problem:{code}" and body["status"] == status
    return body


def raw_problem(status: int, headers: dict[str, str], body: bytes, want: int, code: str) -> dict[str, Any]:
    assert status == want, body
    assert headers["content-type"].startswith(PROBLEM), headers
    found: dict[str, Any] = json.loads(body)
    assert found["code"] == code and found["status"] == want and found["title"] and found["detail"], found
    return found


# --- JSON bodies ---------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [b"[" * 8000 + b"]" * 8000, b'{"a":' * 5000 + b"1" + b"}" * 5000,
                                  b"[" * 33 + b"]" * 33])
async def test_deeply_nested_json_is_400_not_500(edge: Edge, body: bytes) -> None:
    async with aiohttp.ClientSession() as s:
        resp = await s.post(edge.url + "/v1/echo", data=body, headers={"Content-Type": "application/json"})
        found = await problem(resp, 400, "invalid-json")
    assert "nest at most 32 deep" in found["detail"]


async def test_json_32_deep_is_accepted(edge: Edge) -> None:
    async with aiohttp.ClientSession() as s:
        resp = await s.post(edge.url + "/v1/echo", data=b"[" * 32 + b"]" * 32,
                            headers={"Content-Type": "application/json"})
        assert resp.status == 200, await resp.text()


@pytest.mark.parametrize("body", [b'{"item_id":"a","item_id":"b"}', b'[{"x":{"q":1,"q":1}}]'])
async def test_a_key_twice_in_one_object_is_refused(edge: Edge, body: bytes) -> None:
    async with aiohttp.ClientSession() as s:
        resp = await s.post(edge.url + "/v1/echo", data=body, headers={"Content-Type": "application/json"})
        found = await problem(resp, 400, "invalid-json")
    assert "appears twice" in found["detail"]


def test_parse_json_rules() -> None:
    assert http.parse_json(b'{"a":[1,{"b":null}],"c":"d"}') == {"a": [1, {"b": None}], "c": "d"}
    assert http.parse_json('{"a":1,"b":{"a":2}}') == {"a": 1, "b": {"a": 2}}  # the same key in two objects
    for bad in (b"NaN", b'{"a":Infinity}', b'{"a":1,"a":1}', b"[" * 100 + b"]" * 100):
        with pytest.raises(ValueError):
            http.parse_json(bad)


# --- tokens --------------------------------------------------------------------------------------

def signed(keys_dir: Path, **claims: Any) -> str:
    key = tokens.load_private_key(path=str(keys_dir / "player.key"))
    body = {"iss": "commerce", "sub": "ann", "aud": tokens.PLAYER_AUDIENCE, "iat": 1_700_000_000,
            "exp": 4_000_000_000, "jti": "j1", **claims}
    return jwt.encode(body, key, algorithm=tokens.ALGORITHM)


@pytest.mark.parametrize("claims", [{"exp": "4000000000"}, {"iat": "1700000000"}, {"nbf": "1700000000"},
                                    {"exp": True}, {"exp": [4_000_000_000]}])
async def test_a_time_claim_that_is_not_a_number_is_refused_every_time(edge: Edge, keys_dir: Path,
                                                                      claims: dict[str, Any]) -> None:
    token = signed(keys_dir, **claims)
    async with aiohttp.ClientSession() as s:
        for _ in range(3):  # the first answer is not remembered as a good token
            resp = await s.get(edge.url + "/v1/me", headers={"Authorization": f"Bearer {token}"})
            found = await problem(resp, 401, "invalid-token")
            assert found["token_error"] in ("token_claims", "token_expired", "token_malformed"), found


async def test_a_numeric_token_is_still_accepted(edge: Edge, keys_dir: Path) -> None:
    async with aiohttp.ClientSession() as s:
        for _ in range(2):
            resp = await s.get(edge.url + "/v1/me", headers={"Authorization": f"Bearer {signed(keys_dir)}"})
            assert resp.status == 200 and await resp.json() == {"sub": "ann"}


@pytest.mark.parametrize("token", [b"\x90", b"abc\xff.def", "é".encode()])
async def test_a_bearer_token_with_a_non_ascii_byte_is_401(edge: Edge, token: bytes) -> None:
    status, headers, body = await edge.raw(b"GET /v1/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                           b"Authorization: Bearer " + token + b"\r\n\r\n")
    assert raw_problem(status, headers, body, 401, "invalid-token")["token_error"] == "token_malformed"


def test_the_verifier_refuses_non_ascii_and_string_times(keys_dir: Path) -> None:
    verifier = tokens.Verifier(tokens.load_public_key(path=str(keys_dir / "player.pub")))
    for token in ("\udc90", signed(keys_dir) + "\u00e9"):
        with pytest.raises(tokens.TokenError) as err:
            verifier.verify(token, tokens.PLAYER_AUDIENCE)
        assert err.value.code == "token_malformed"
    with pytest.raises(tokens.TokenError) as err:
        verifier.verify(signed(keys_dir, exp="4000000000"), tokens.PLAYER_AUDIENCE)
    assert err.value.code == "token_claims"
    # The game server's join check (max_ttl_s) and a given clock (now) did arithmetic on the strings.
    with pytest.raises(tokens.TokenError) as err:
        verifier.verify(signed(keys_dir, exp="4000000000"), tokens.PLAYER_AUDIENCE, max_ttl_s=60.0)
    assert err.value.code == "token_claims"
    with pytest.raises(tokens.TokenError) as err:
        verifier.verify(signed(keys_dir, exp="1700000030"), tokens.PLAYER_AUDIENCE, now=1_700_000_010.0)
    assert err.value.code == "token_claims"


# --- what aiohttp answers before the middleware ----------------------------------------------------

@pytest.mark.parametrize("data", [b"NONSENSE\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
                                  b"GET /v1/me HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
                                  b"GET /v1/me HTTP/9.9\r\n\r\n"])
async def test_garbage_gets_a_problem_not_plain_text(edge: Edge, data: bytes) -> None:
    status, headers, body = await edge.raw(data)
    raw_problem(status, headers, body, 400, "bad-request")


@pytest.mark.parametrize("data", [
    b"GET /v1/me HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 20_000 + b"\r\n\r\n",
    b"GET /v1/me HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n",
])
async def test_an_oversized_head_gets_431_problem(edge: Edge, data: bytes) -> None:
    status, headers, body = await edge.raw(data)
    raw_problem(status, headers, body, 431, "headers-too-large")


async def test_the_service_still_answers_after_garbage(edge: Edge) -> None:
    await edge.raw(b"NONSENSE\r\n\r\n")
    async with aiohttp.ClientSession() as s:
        resp = await s.post(edge.url + "/v1/echo", json={"a": 1})
        assert resp.status == 200 and await resp.json() == {"got": {"a": 1}}


# --- 500 and 405 ---------------------------------------------------------------------------------

async def test_a_500_mentions_the_idempotency_key_only_where_one_was_sent(edge: Edge) -> None:
    async with aiohttp.ClientSession() as s:
        got = await problem(await s.get(edge.url + "/v1/crash"), 500, "internal")
        assert got["detail"] == "something went wrong on our side"
        posted = await problem(await s.post(edge.url + "/v1/crash"), 500, "internal")
        assert "Idempotency-Key" not in posted["detail"]
        keyed = await problem(await s.post(edge.url + "/v1/crash", headers={"Idempotency-Key": "k1"}), 500,
                              "internal")
        assert keyed["detail"] == ("something went wrong on our side; nothing was done twice; retry with the same "
                                   "Idempotency-Key")
        head = await s.get(edge.url + "/v1/crash", headers={"Idempotency-Key": "k1"})
        assert "Idempotency-Key" not in (await problem(head, 500, "internal"))["detail"]


async def test_a_405_carries_allow(edge: Edge) -> None:
    async with aiohttp.ClientSession() as s:
        resp = await s.delete(edge.url + "/v1/echo")
        await problem(resp, 405, "method-not-allowed")
        assert resp.headers["Allow"] == "POST"
        resp = await s.post(edge.url + "/v1/me")
        await problem(resp, 405, "method-not-allowed")
        assert set(resp.headers["Allow"].split(",")) == {"GET", "HEAD"}
