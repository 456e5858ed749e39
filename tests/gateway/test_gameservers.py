"""``/api/gameservers/{server_id}/…``: found through the matchmaker's list, kept briefly, 404 when unknown."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from tests.gateway.servers import gateway, serving

OPERATOR = "Bearer operator-token"


def game_server(name: str) -> web.Application:
    async def rooms(request: web.Request) -> web.Response:
        return web.json_response({"server": name, "path": request.path, "query": request.query_string,
                                  "authorization": request.headers.get("Authorization")})
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", rooms)
    return app


class Matchmaker:
    def __init__(self) -> None:
        self.lists = 0
        self.servers: list[dict[str, object]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/admin/servers", self.list)
        return app

    async def list(self, request: web.Request) -> web.Response:
        self.lists += 1
        if request.headers.get("Authorization") != OPERATOR:
            return web.Response(status=403, content_type="application/problem+json",
                                body=b'{"code":"forbidden","detail":"needs the matchmaker:admin scope"}')
        return web.json_response({"servers": self.servers})


async def test_requests_reach_the_named_game_server_and_an_unknown_one_is_404() -> None:
    mm = Matchmaker()
    async with serving(game_server("gs-1")) as one, serving(game_server("gs-2")) as two, \
            serving(mm.app()) as matchmaker, gateway({"matchmaker": matchmaker}) as gw, aiohttp.ClientSession() as s:
        mm.servers = [{"server_id": "gs-1", "http_url": one, "ws_url": "ws://x"},
                      {"server_id": "gs-2", "http_url": two + "/"}, {"server_id": "broken", "http_url": "ftp://x"}]
        headers = {"Authorization": OPERATOR}
        async with s.get(gw + "/api/gameservers/gs-1/v1/admin/rooms?mode=arena", headers=headers) as r:
            assert r.status == 200
            assert await r.json() == {"server": "gs-1", "path": "/v1/admin/rooms", "query": "mode=arena",
                                      "authorization": OPERATOR}
        async with s.post(gw + "/api/gameservers/gs-2/v1/admin/rooms/r-1/kick", headers=headers) as r:
            assert (await r.json())["server"] == "gs-2" and (await r.json())["path"] == "/v1/admin/rooms/r-1/kick"
        assert mm.lists == 1  # the list is kept briefly, not read per request
        for unknown in ("gs-9", "broken"):
            async with s.get(f"{gw}/api/gameservers/{unknown}/v1/admin/rooms", headers=headers) as r:
                assert r.status == 404 and (await r.json())["code"] == "unknown-server"
        mm.servers.append({"server_id": "gs-3", "http_url": one})  # a server that registered since
        async with s.get(gw + "/api/gameservers/gs-3/healthz", headers=headers) as r:
            assert r.status == 200 and (await r.json())["path"] == "/healthz"


async def test_a_refused_list_is_the_callers_answer_and_is_not_kept() -> None:
    mm = Matchmaker()
    async with serving(game_server("gs-1")) as one, serving(mm.app()) as matchmaker, \
            gateway({"matchmaker": matchmaker}, ELYSIUM_GATEWAY_SERVERS_CACHE_S="0") as gw, \
            aiohttp.ClientSession() as s:
        mm.servers = [{"server_id": "gs-1", "http_url": one}]
        async with s.get(gw + "/api/gameservers/gs-1/v1/admin/rooms", headers={"Authorization": "Bearer player"}) as r:
            assert r.status == 403 and r.content_type == "application/problem+json"
            problem = await r.json()
        assert problem["code"] == "forbidden" and "needs the matchmaker:admin scope" in problem["detail"]
        async with s.get(gw + "/api/gameservers/gs-1/v1/admin/rooms", headers={"Authorization": OPERATOR}) as r:
            assert r.status == 200


async def test_the_matchmaker_down_is_502() -> None:
    async with gateway() as gw, aiohttp.ClientSession() as s:
        async with s.get(gw + "/api/gameservers/gs-1/v1/admin/rooms", headers={"Authorization": OPERATOR}) as r:
            assert r.status == 502 and (await r.json())["code"] == "upstream-unavailable"
