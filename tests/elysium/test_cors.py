"""CORS: the setting, the pure policy, and the aiohttp edge answering browsers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from elysium import config, cors, http, serve
from elysium.problem import shared

GAME = "https://play.example.com"


@dataclass(frozen=True)
class WithCors:
    cors_origins: tuple[str, ...] = config.cors_setting()


@pytest.mark.parametrize("raw, expected", [
    ("", ()), ("*", ("*",)), (f"{GAME}, http://localhost:5173", (GAME, "http://localhost:5173")),
])
def test_the_setting_is_a_comma_list_of_origins(raw: str, expected: tuple[str, ...]) -> None:
    assert config.load(WithCors, environ={"ELYSIUM_CORS_ORIGINS": raw}).cors_origins == expected
    assert config.load(WithCors, environ={}).cors_origins == ()


@pytest.mark.parametrize("raw", [f"{GAME}/", f"{GAME}/play", "play.example.com", "ftp://x.example", "*,https://a.b",
                                 "https://", "https://a b"])
def test_a_bad_origin_names_the_variable(raw: str) -> None:
    with pytest.raises(config.ConfigError) as err:
        config.load(WithCors, environ={"ELYSIUM_CORS_ORIGINS": raw})
    assert err.value.variable == "ELYSIUM_CORS_ORIGINS"


def test_the_policy() -> None:
    assert cors.policy(()) is None
    some = cors.policy((GAME, "HTTP://LOCALHOST:5173"))
    assert some is not None
    assert some.allowed(GAME) == GAME and some.allowed("http://localhost:5173") == "http://localhost:5173"
    assert some.allowed("https://evil.example") is None and some.allowed(None) is None
    assert some.headers("https://evil.example") == {"Vary": "Origin"}
    assert some.headers(GAME)["Access-Control-Allow-Origin"] == GAME
    assert some.preflight("https://evil.example", ["GET"]) is None
    every = cors.policy(("*",))
    assert every is not None and every.allowed("https://anyone.example") == "*"


# --- through the edge, served as services run ----------------------------------------------------

async def things(request: web.Request) -> web.Response:
    return http.json_response({"ok": True}, 201, headers={"Location": "/v1/things/1"})


async def busy(request: web.Request) -> web.Response:
    raise shared("unavailable", "later", headers={"Retry-After": "1"})


async def events(request: web.Request) -> web.StreamResponse:
    resp = http.stream_response(request, headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    await resp.write(b"data: 1\n\n")
    return resp


@pytest.fixture
async def served() -> AsyncIterator[Callable[..., Any]]:
    services: list[serve.AppService] = []

    async def start(origins: tuple[str, ...]) -> str:
        app = http.application(cors_origins=origins)
        app.router.add_post("/v1/things", things)
        app.router.add_get("/v1/things", things)
        app.router.add_get("/v1/busy", busy)
        app.router.add_get("/v1/events", events)
        service = serve.AppService(app, "127.0.0.1", 0, shutdown_timeout_s=1.0)
        await service.start(None)
        services.append(service)
        return f"http://127.0.0.1:{service.port}"

    yield start
    for service in services:
        await service.drain_and_stop()


def preflight_headers(origin: str, method: str = "POST") -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key"}


async def test_a_preflight_from_an_allowed_origin_is_204_with_the_methods_and_headers(served: Any) -> None:
    url = await served((GAME,))
    async with aiohttp.ClientSession() as s:
        resp = await s.options(url + "/v1/things", headers=preflight_headers(GAME))
        assert resp.status == 204, await resp.text()
        h = resp.headers
        assert h["Access-Control-Allow-Origin"] == GAME and h["Vary"] == "Origin"
        assert set(h["Access-Control-Allow-Methods"].split(", ")) == {"GET", "HEAD", "POST"}
        allowed = {name.lower() for name in h["Access-Control-Allow-Headers"].split(", ")}
        assert {"authorization", "content-type", "idempotency-key"} <= allowed
        assert int(h["Access-Control-Max-Age"]) > 0 and "X-Request-Id" in h


async def test_answers_to_an_allowed_origin_carry_cors_headers(served: Any) -> None:
    url = await served((GAME,))
    async with aiohttp.ClientSession() as s:
        for resp in (await s.post(url + "/v1/things", headers={"Origin": GAME}),
                     await s.get(url + "/v1/busy", headers={"Origin": GAME}),
                     await s.get(url + "/nowhere", headers={"Origin": GAME}),
                     await s.delete(url + "/v1/things", headers={"Origin": GAME}),
                     await s.get(url + "/v1/events", headers={"Origin": GAME})):
            assert resp.headers["Access-Control-Allow-Origin"] == GAME, resp.status
            exposed = set(resp.headers["Access-Control-Expose-Headers"].split(", "))
            assert {"X-Request-Id", "Retry-After"} <= exposed and "Origin" in resp.headers["Vary"]


async def test_another_origin_gets_no_cors_headers_and_its_preflight_is_403(served: Any) -> None:
    url = await served((GAME,))
    async with aiohttp.ClientSession() as s:
        resp = await s.post(url + "/v1/things", headers={"Origin": "https://evil.example"})
        assert resp.status == 201 and "Access-Control-Allow-Origin" not in resp.headers
        assert resp.headers["Vary"] == "Origin"
        refused = await s.options(url + "/v1/things", headers=preflight_headers("https://evil.example"))
        assert refused.status == 403 and refused.content_type == "application/problem+json"
        assert (await refused.json())["code"] == "forbidden"
        assert "Access-Control-Allow-Origin" not in refused.headers
        lost = await s.options(url + "/nowhere", headers=preflight_headers(GAME))
        assert lost.status == 404


async def test_star_allows_every_origin(served: Any) -> None:
    url = await served(("*",))
    async with aiohttp.ClientSession() as s:
        resp = await s.options(url + "/v1/things", headers=preflight_headers("https://anyone.example", "GET"))
        assert resp.status == 204 and resp.headers["Access-Control-Allow-Origin"] == "*"
        resp = await s.get(url + "/v1/things", headers={"Origin": "https://anyone.example"})
        assert resp.headers["Access-Control-Allow-Origin"] == "*"


async def test_without_the_setting_no_cors_header_is_sent(served: Any) -> None:
    url = await served(())
    async with aiohttp.ClientSession() as s:
        resp = await s.post(url + "/v1/things", headers={"Origin": GAME})
        assert resp.status == 201 and not [h for h in resp.headers if h.lower().startswith("access-control-")]
        assert "Vary" not in resp.headers
        pre = await s.options(url + "/v1/things", headers=preflight_headers(GAME))
        assert pre.status == 405 and "Access-Control-Allow-Origin" not in pre.headers
