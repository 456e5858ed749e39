"""``GET /api/gateway/v1/status`` and the gateway's own probes and OpenAPI document."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from gateway.app import create_app
from gateway.openapi import build
from tests.gateway.servers import gateway, serving, settings


class Service:
    def __init__(self, ready: bool) -> None:
        self.ready = ready
        self.asked = 0

    def app(self) -> web.Application:
        async def readyz(request: web.Request) -> web.Response:
            self.asked += 1
            return web.json_response({"ready": self.ready}, status=200 if self.ready else 503)
        app = web.Application()
        app.router.add_get("/readyz", readyz)
        return app


async def test_status_says_which_services_are_ready_and_keeps_the_answer_a_few_seconds() -> None:
    commerce, matchmaker, butler = Service(True), Service(False), Service(True)
    async with serving(commerce.app()) as c, serving(matchmaker.app()) as m, serving(butler.app()) as b, \
            gateway({"commerce": c, "matchmaker": m, "butler": b},
                    ELYSIUM_GRAFANA_URL="https://grafana.example.com") as gw, aiohttp.ClientSession() as s:
        async with s.get(gw + "/api/gateway/v1/status") as r:
            assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
            body = await r.json()
        assert body == {"version": "0.1.0", "services": {"commerce": {"ready": True}, "matchmaker": {"ready": False},
                                                         "spectator": {"ready": False}, "butler": {"ready": True}},
                        "grafana_url": "https://grafana.example.com"}
        async with s.get(gw + "/api/gateway/v1/status") as r, s.get(gw + "/readyz") as ready:
            assert (await r.json())["services"]["matchmaker"] == {"ready": False}
            assert ready.status == 200  # commerce answers: the client can work
        assert commerce.asked == 1 and matchmaker.asked == 1  # cached


async def test_status_is_fresh_after_the_cache_and_readyz_follows_commerce() -> None:
    commerce = Service(False)
    async with serving(commerce.app()) as c, gateway({"commerce": c}, ELYSIUM_GATEWAY_STATUS_CACHE_S="0") as gw, \
            aiohttp.ClientSession() as s:
        async with s.get(gw + "/readyz") as r:
            assert r.status == 503 and (await r.json())["services"]["commerce"] is False
        commerce.ready = True
        async with s.get(gw + "/readyz") as r:
            assert r.status == 200
        async with s.get(gw + "/api/gateway/v1/status") as r:
            assert (await r.json())["grafana_url"] is None


async def test_probes_metrics_and_the_openapi_document() -> None:
    async with gateway() as gw, aiohttp.ClientSession() as s:
        async with s.get(gw + "/healthz") as r:
            assert r.status == 200 and await r.json() == {"status": "ok"}
        async with s.get(gw + "/metrics") as r:
            assert r.status == 200 and "gateway_http_requests_total" in await r.text()
        async with s.get(gw + "/v1/openapi.json") as r:
            doc = await r.json()
    assert doc == build()
    ids = [op["operationId"] for path in doc["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids)) and "getGatewayStatus" in ids


async def test_every_documented_path_is_a_route() -> None:
    app = create_app(settings())
    routes = {r.resource.canonical for r in app.router.routes() if r.resource is not None}
    for path, operations in build()["paths"].items():
        assert path in routes, path
        for method in operations:
            assert any(r.method == method.upper() and r.resource is not None and r.resource.canonical == path
                       for r in app.router.routes()), (method, path)
