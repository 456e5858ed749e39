"""Websockets through the gateway: both directions, text and binary, subprotocols, close codes both ways,
and a refused upgrade reaching the browser as the service's answer."""

from __future__ import annotations


import aiohttp
import pytest
from aiohttp import WSMsgType, web

from tests.gateway.servers import dead_url, gateway, serving
from tests.waiting import until


class Relay:
    """A stand-in relay: echoes, closes with 4001 when told, remembers how the browser closed."""

    def __init__(self) -> None:
        self.closed_with: list[tuple[int | None, str]] = []
        self.headers: list[dict[str, str]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/watch/{match_id}", self.watch)
        app.router.add_get("/v1/private", self.refuse)
        return app

    async def refuse(self, request: web.Request) -> web.Response:
        return web.Response(status=401, body=b'{"code":"unauthorized"}', content_type="application/problem+json")

    async def watch(self, request: web.Request) -> web.WebSocketResponse:
        self.headers.append(dict(request.headers))
        ws = web.WebSocketResponse(protocols=("elysium.v1",))
        await ws.prepare(request)
        await ws.send_str(f"hello {request.match_info['match_id']} {request.query_string}")
        async for msg in ws:
            if msg.type == WSMsgType.TEXT and msg.data == "kick me":
                await ws.close(code=4001, message=b"kicked")
                break
            if msg.type == WSMsgType.TEXT:
                await ws.send_str("echo " + msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data[::-1])
        self.closed_with.append((ws.close_code, ""))
        return ws


async def test_messages_pass_both_ways_and_the_services_close_code_reaches_the_browser() -> None:
    relay = Relay()
    async with serving(relay.app()) as upstream, gateway({"spectator": upstream}) as gw, aiohttp.ClientSession() as s:
        async with s.ws_connect(gw.replace("http", "ws") + "/api/spectator/v1/watch/m-1?delay=5",
                                protocols=("elysium.v1",), headers={"Authorization": "Bearer t"}) as ws:
            assert ws.protocol == "elysium.v1"
            assert (await ws.receive_str(timeout=5)) == "hello m-1 delay=5"
            await ws.send_str("ping")
            assert (await ws.receive_str(timeout=5)) == "echo ping"
            await ws.send_bytes(b"\x01\x02\x03")
            assert (await ws.receive_bytes(timeout=5)) == b"\x03\x02\x01"
            await ws.send_str("kick me")
            msg = await ws.receive(timeout=5)
            assert msg.type == WSMsgType.CLOSE and msg.data == 4001 and msg.extra == "kicked"
        assert relay.headers[0]["Authorization"] == "Bearer t"
        assert relay.headers[0]["X-Forwarded-For"] == "127.0.0.1"


async def test_the_browsers_close_code_reaches_the_service() -> None:
    relay = Relay()
    async with serving(relay.app()) as upstream, gateway({"spectator": upstream}) as gw, aiohttp.ClientSession() as s:
        ws = await s.ws_connect(gw.replace("http", "ws") + "/api/spectator/v1/watch/m-2")
        assert (await ws.receive_str(timeout=5)).startswith("hello m-2")
        await ws.close(code=4002, message=b"bye")
        assert ws.close_code == 4002  # the gateway answered the close with the same code
        closed = await until(lambda: relay.closed_with, 5, what="the relay seeing the close")
        assert closed[0][0] == 4002


async def test_a_refused_upgrade_is_the_services_status_and_a_dead_service_is_502() -> None:
    relay = Relay()
    async with serving(relay.app()) as upstream, gateway({"spectator": upstream, "butler": dead_url()}) as gw, \
            aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await s.ws_connect(gw.replace("http", "ws") + "/api/spectator/v1/private")
        assert refused.value.status == 401
        with pytest.raises(aiohttp.WSServerHandshakeError) as down:
            await s.ws_connect(gw.replace("http", "ws") + "/api/butler/v1/anything")
        assert down.value.status == 502


async def test_many_messages_in_order_and_the_gauge_returns_to_zero() -> None:
    relay = Relay()
    async with serving(relay.app()) as upstream, gateway({"spectator": upstream}) as gw, aiohttp.ClientSession() as s:
        async with s.ws_connect(gw.replace("http", "ws") + "/api/spectator/v1/watch/m-3") as ws:
            await ws.receive_str(timeout=5)
            for i in range(200):
                await ws.send_str(str(i))
            got = [await ws.receive_str(timeout=5) for _ in range(200)]
            assert got == [f"echo {i}" for i in range(200)]
            async with s.get(gw + "/metrics") as r:
                assert 'gateway_websockets{service="spectator"} 1.0' in await r.text()

        async def gauge_is_zero() -> bool:
            async with s.get(gw + "/metrics") as r:
                return 'gateway_websockets{service="spectator"} 0.0' in await r.text()

        await until(gauge_is_zero, 5, what="the websocket gauge back at zero")
