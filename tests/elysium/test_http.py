"""The shared HTTP edge, driven through a tiny real aiohttp app on a real socket."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from elysium import http, logs, procs, tokens
from elysium.metrics import Metrics
from elysium.problem import Problem

PROBLEM = "application/problem+json"
APP_LOG = logging.getLogger("tests.edge")


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, int]] = []

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        assert seconds >= 0
        self.seen.append((method, route, status))


DEAD_REDIS = web.AppKey("dead_redis", aioredis.Redis)
CACHE = web.AppKey("cache", http.VerifiedTokens)
RECORDER = web.AppKey("recorder", Recorder)


async def refuse(request: web.Request) -> web.Response:
    APP_LOG.info("refusing")
    raise Problem(409, "already-there", "It is already there", "try another name", errors={"name": "taken"})


async def backing(request: web.Request) -> web.Response:
    await request.app[DEAD_REDIS].get("x")
    return web.Response(text="unreachable")


async def crash(request: web.Request) -> web.Response:
    raise RuntimeError("secret internals at /srv/app.py line 7")


async def echo(request: web.Request) -> web.Response:
    return http.json_response({"got": await http.read_json(request, 64)})


async def me(request: web.Request) -> web.Response:
    claims = request.app[CACHE].claims(http.bearer(request, query="access_token"))
    return http.json_response({"sub": claims["sub"]})


async def stream(request: web.Request) -> web.StreamResponse:
    resp = http.stream_response(request)
    await resp.prepare(request)
    await resp.write(b"data: 1\n\n")
    return resp


async def keyed(request: web.Request) -> web.Response:
    return http.json_response({"key": http.idempotency_key(request)})


async def not_ready() -> http.Ready:
    return http.Ready(False, {"redis": False})


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Every record as the services log it: JSON lines through the request-id filter."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter("test"))
    handler.addFilter(logs.RequestIdFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    root.setLevel(level)


def records(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line]


@pytest.fixture
async def client(keys_dir: Path) -> AsyncIterator[TestClient[Any, Any]]:
    recorder = Recorder()
    app = http.application(observe=recorder.observe, client_max_size=1024)
    app[RECORDER] = recorder
    app[DEAD_REDIS] = aioredis.from_url(f"redis://127.0.0.1:{procs.free_port()}/0")
    verifier = tokens.Verifier(tokens.load_public_key(path=str(keys_dir / "player.pub")))
    app[CACHE] = http.VerifiedTokens(verifier, tokens.PLAYER_AUDIENCE, size=2)
    http.add_probes(app, ready=not_ready, metrics=lambda: b"edge_metric 1\n", openapi={"openapi": "3.1.0"})
    app.router.add_post("/v1/things", refuse)
    app.router.add_get("/v1/backing", backing)
    app.router.add_get("/v1/crash", crash)
    app.router.add_post("/v1/echo", echo)
    app.router.add_get("/v1/me", me)
    app.router.add_get("/v1/stream", stream)
    app.router.add_post("/v1/keyed", keyed)
    test_client: TestClient[Any, Any] = TestClient(TestServer(app))
    await test_client.start_server()
    yield test_client
    await test_client.close()
    await app[DEAD_REDIS].aclose()


async def problem(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == PROBLEM
    body: dict[str, Any] = await resp.json()
    assert body["type"] == f"urn:elysium:problem:{code}" and body["code"] == code and body["status"] == status
    assert body["request_id"] == resp.headers["X-Request-Id"]
    assert body["instance"] == resp.url.path
    return body


async def test_an_expected_problem_is_answered_with_its_fields(client: Any, log_lines: io.StringIO) -> None:
    resp = await client.post("/v1/things", headers={"X-Request-Id": "client-chosen-42"})
    body = await problem(resp, 409, "already-there")
    assert body["title"] == "It is already there" and body["detail"] == "try another name"
    assert body["errors"] == {"name": "taken"} and body["request_id"] == "client-chosen-42"
    # The handler's own log line and the access line both carry the request id.
    lines = records(log_lines)
    assert any(r["msg"] == "refusing" and r["request_id"] == "client-chosen-42" for r in lines)
    access = [r for r in lines if r["logger"] == "elysium.http.access"]
    assert len(access) == 1
    assert {k: access[0][k] for k in ("method", "route", "status", "request_id")} == {
        "method": "POST", "route": "/v1/things", "status": 409, "request_id": "client-chosen-42"}
    assert isinstance(access[0]["duration_ms"], float) and access[0]["duration_ms"] >= 0


async def test_aiohttp_refusals_become_problems(client: Any) -> None:
    await problem(await client.get("/nowhere"), 404, "not-found")
    gone = await problem(await client.delete("/v1/things"), 405, "method-not-allowed")
    assert "DELETE" in gone["detail"]
    # Past client_max_size aiohttp refuses while reading; the edge answers problem+json.
    await problem(await client.post("/v1/echo", data=b"[" + b"1," * 1000 + b"1]",
                                    headers={"Content-Type": "application/json"}), 413, "body-too-large")
    assert client.app[RECORDER].seen[-3:] == [("GET", "unmatched", 404), ("DELETE", "unmatched", 405),
                                              ("POST", "/v1/echo", 413)]


async def test_json_bodies_are_checked(client: Any) -> None:
    ok = await client.post("/v1/echo", json={"a": 1})
    assert ok.status == 200 and await ok.json() == {"got": {"a": 1}}
    assert "X-Request-Id" in ok.headers
    await problem(await client.post("/v1/echo", data=b'{"a": 1' + b" " * 80 + b"}",
                                    headers={"Content-Type": "application/json"}), 413, "body-too-large")
    await problem(await client.post("/v1/echo", data=b"a=1"), 415, "unsupported-media-type")
    await problem(await client.post("/v1/echo", data=b"{", headers={"Content-Type": "application/json"}), 400,
                  "invalid-json")
    await problem(await client.post("/v1/echo", data=b"NaN", headers={"Content-Type": "application/json"}), 400,
                  "invalid-json")


async def test_a_backing_service_error_is_unavailable_with_retry_after(client: Any, log_lines: io.StringIO) -> None:
    resp = await client.get("/v1/backing")
    await problem(resp, 503, "unavailable")
    assert resp.headers["Retry-After"] == "1"
    assert any(r["msg"] == "backing service error" for r in records(log_lines))


async def test_an_unexpected_error_is_logged_and_answered_without_its_traceback(client: Any,
                                                                               log_lines: io.StringIO) -> None:
    resp = await client.get("/v1/crash")
    body = await problem(resp, 500, "internal")
    text = json.dumps(body)
    assert "secret internals" not in text and "Traceback" not in text and "RuntimeError" not in text
    logged = [r for r in records(log_lines) if r["msg"] == "unexpected error"]
    assert len(logged) == 1 and "secret internals" in logged[0]["exc"]
    assert logged[0]["request_id"] == body["request_id"]
    assert client.app[RECORDER].seen[-1] == ("GET", "/v1/crash", 500)


@pytest.mark.parametrize("given", [None, "", "has space", "x" * 129, "tab\there"])
async def test_a_missing_or_bad_request_id_is_replaced(client: Any, given: str | None) -> None:
    headers = {} if given is None else {"X-Request-Id": given}
    first = await client.post("/v1/things", headers=headers)
    second = await client.post("/v1/things", headers=headers)
    ids = [first.headers["X-Request-Id"], second.headers["X-Request-Id"]]
    assert given not in ids and ids[0] != ids[1]
    assert all(http.REQUEST_ID.fullmatch(i) for i in ids)
    assert (await first.json())["request_id"] == ids[0]


async def test_a_streamed_answer_carries_the_request_id(client: Any) -> None:
    resp = await client.get("/v1/stream", headers={"X-Request-Id": "stream-1"})
    assert resp.status == 200 and resp.headers["X-Request-Id"] == "stream-1"
    assert await resp.read() == b"data: 1\n\n"


async def test_probes_and_openapi(client: Any) -> None:
    health = await client.get("/healthz")
    assert health.status == 200 and await health.json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status == 503 and await ready.json() == {"ready": False, "redis": False}
    metrics = await client.get("/metrics")
    assert metrics.status == 200 and await metrics.read() == b"edge_metric 1\n"
    assert metrics.headers["Content-Type"].startswith("text/plain")
    doc = await client.get("/v1/openapi.json")
    assert doc.content_type == "application/json" and await doc.json() == {"openapi": "3.1.0"}


async def test_bearer_tokens_through_the_cache(client: Any, player_signer: tokens.Signer,
                                               join_signer: tokens.Signer) -> None:
    missing = await client.get("/v1/me")
    body = await problem(missing, 401, "unauthorized")
    assert "token_error" not in body and missing.headers["WWW-Authenticate"] == 'Bearer realm="elysium"'
    await problem(await client.get("/v1/me", headers={"Authorization": "Basic abc"}), 401, "unauthorized")
    bad = await client.get("/v1/me", headers={"Authorization": "Bearer " + join_signer.issue(
        "eve", tokens.PLAYER_AUDIENCE, 60)})
    assert (await problem(bad, 401, "invalid-token"))["token_error"] == "token_signature"
    assert 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
    good = player_signer.issue("ann", tokens.PLAYER_AUDIENCE, 60)
    for _ in range(2):
        resp = await client.get("/v1/me", headers={"Authorization": f"Bearer {good}"})
        assert resp.status == 200 and await resp.json() == {"sub": "ann"}
    by_query = await client.get("/v1/me", params={"access_token": good})
    assert by_query.status == 200
    cache = client.app[CACHE]
    assert len(cache) == 1
    # A remembered entry past its expiry is not trusted: the token is verified again (and here fails).
    cache._claims["forged"] = {"sub": "mallory", "exp": 1}
    forged = await client.get("/v1/me", headers={"Authorization": "Bearer forged"})
    assert (await problem(forged, 401, "invalid-token"))["token_error"] == "token_malformed"
    assert "forged" not in cache._claims
    old = player_signer.issue("old", tokens.PLAYER_AUDIENCE, 10, now=1_000_000)
    stale = await client.get("/v1/me", headers={"Authorization": f"Bearer {old}"})
    assert (await problem(stale, 401, "invalid-token"))["token_error"] == "token_expired"


def test_the_cache_is_bounded_and_drops_the_least_recently_used(keys_dir: Path,
                                                                 player_signer: tokens.Signer) -> None:
    verifier = tokens.Verifier(tokens.load_public_key(path=str(keys_dir / "player.pub")))
    cache = http.VerifiedTokens(verifier, tokens.PLAYER_AUDIENCE, size=2)
    a, b, c = (player_signer.issue(n, tokens.PLAYER_AUDIENCE, 60) for n in "abc")
    cache.claims(a)
    cache.claims(b)
    cache.claims(a)  # a is now the most recently used
    cache.claims(c)
    assert set(cache._claims) == {a, c}


async def test_idempotency_keys(client: Any) -> None:
    ok = await client.post("/v1/keyed", headers={"Idempotency-Key": "order-1"})
    assert await ok.json() == {"key": "order-1"}
    await problem(await client.post("/v1/keyed"), 400, "idempotency-key-missing")
    await problem(await client.post("/v1/keyed", headers={"Idempotency-Key": "k" * 129}), 400,
                  "idempotency-key-invalid")


def test_request_metrics_count_by_route_and_status() -> None:
    metrics = Metrics("edge_test")
    requests = http.RequestMetrics(metrics)
    requests.observe("GET", "/v1/things", 200, 0.002)
    requests.observe("GET", "/v1/things", 200, 0.003)
    requests.observe("GET", "/v1/things", 404, 0.0025)  # on a bound: counted in that bucket (le)
    requests.observe("GET", "/v1/things", 200, 9.0)  # past the last bound: +Inf only
    text = metrics.render().decode()
    assert 'elysium_edge_test_http_requests_total{method="GET",route="/v1/things",status="200"} 3.0' in text
    assert 'elysium_edge_test_http_requests_total{method="GET",route="/v1/things",status="404"} 1.0' in text
    series = 'elysium_edge_test_http_request_seconds_bucket{le="%s",method="GET",route="/v1/things"} %s'
    for bound, count in (("0.001", "0.0"), ("0.0025", "2.0"), ("0.005", "3.0"), ("5.0", "3.0"), ("+Inf", "4.0")):
        assert series % (bound, count) in text, (bound, count)
    assert 'elysium_edge_test_http_request_seconds_count{method="GET",route="/v1/things"} 4.0' in text
    assert 'elysium_edge_test_http_request_seconds_sum{method="GET",route="/v1/things"} 9.0075' in text
