"""SIGTERM's drain, in process through the same service object ``elysium gateway`` runs: a stream in
flight finishes within the drain, and the gateway reports itself not ready from its first moment."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from elysium import procs
from gateway.appkeys import GATEWAY
from gateway.cli import _service
from tests.gateway.servers import serving, settings


async def test_a_stream_in_flight_finishes_during_the_drain() -> None:
    release = asyncio.Event()

    async def chat(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"event: text\ndata: {}\n\n")
        await asyncio.wait_for(release.wait(), 10)
        await response.write(b"event: done\ndata: {}\n\n")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat", chat)
    async with serving(app) as butler:
        port = procs.free_port()
        service = _service(settings({"butler": butler}, ELYSIUM_GATEWAY_PORT=str(port),
                                    ELYSIUM_GATEWAY_DRAIN_TIMEOUT_S="8"))
        await service.start(None)
        try:
            async with aiohttp.ClientSession() as s, s.post(f"http://127.0.0.1:{port}/api/butler/v1/chat",
                                                            json={"message": "hi"}) as r:
                assert await r.content.readuntil(b"\n\n") == b"event: text\ndata: {}\n\n"
                drain = asyncio.ensure_future(service.drain_and_stop())
                await asyncio.sleep(0)  # the drain has begun
                assert service.app[GATEWAY].draining  # /readyz answers 503 from here on
                assert not drain.done()
                release.set()
                assert await asyncio.wait_for(r.content.read(), 5) == b"event: done\ndata: {}\n\n"
            await asyncio.wait_for(drain, 10)
        finally:
            if not service.app[GATEWAY].draining:
                await service.drain_and_stop()
