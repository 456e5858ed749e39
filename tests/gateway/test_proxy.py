"""The reverse proxy against real stand-in services: methods, bodies, headers, streams, limits, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from tests.gateway.servers import dead_url, gateway, serving
from tests.waiting import until


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response({"method": request.method, "raw_path": request.rel_url.raw_path,
                              "query": request.rel_url.raw_query_string, "headers": dict(request.headers),
                              "body": body.decode()},
                             status=201 if request.method == "POST" else 200,
                             headers={"X-Upstream": "commerce", "Keep-Alive": "timeout=5", "X-Request-Id": "theirs"})


def echo_app() -> web.Application:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


async def test_any_method_path_query_body_and_headers_pass_through() -> None:
    async with serving(echo_app()) as upstream, gateway({"commerce": upstream}) as gw, aiohttp.ClientSession() as s:
        headers = {"Authorization": "Bearer player-token", "Idempotency-Key": "k-1", "Content-Type": "application/json",
                   "Accept": "application/json", "Last-Event-ID": "41", "Connection": "keep-alive, X-Secret-Hop",
                   "X-Secret-Hop": "must-not-pass", "TE": "trailers", "X-Request-Id": "req-123"}
        async with s.post(URL(gw + "/api/commerce/v1/items/a%2Fb?x=1&y=%20", encoded=True), headers=headers,
                          data=b'{"n":1}') as r:
            assert r.status == 201
            assert r.headers["X-Upstream"] == "commerce"
            assert "Keep-Alive" not in r.headers  # hop-by-hop, dropped on the way back
            assert r.headers["X-Request-Id"] == "req-123"  # the gateway's (the client's), not a second one
            seen = await r.json()
        assert seen["method"] == "POST" and seen["body"] == '{"n":1}'
        assert seen["raw_path"] == "/v1/items/a%2Fb" and seen["query"] == "x=1&y=%20"  # still encoded
        h = CIMultiDict(seen["headers"])
        for name in ("Authorization", "Idempotency-Key", "Content-Type", "Accept", "Last-Event-ID"):
            assert h[name] == headers[name], name
        assert "X-Secret-Hop" not in h and "TE" not in h
        assert h["X-Forwarded-For"] == "127.0.0.1" and h["X-Forwarded-Proto"] == "http"
        assert h["X-Forwarded-Host"] == URL(gw).authority
        assert h["X-Request-Id"] == "req-123"
        for method in ("GET", "PUT", "PATCH", "DELETE"):
            async with s.request(method, gw + "/api/commerce/v1/thing") as r:
                assert r.status == 200 and (await r.json())["method"] == method
        async with s.head(gw + "/api/commerce/v1/thing") as r:
            assert r.status == 200 and await r.read() == b""
        async with s.get(gw + "/api/commerce") as r:
            assert (await r.json())["raw_path"] == "/"
        behind = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "elysium.example.com"}
        async with s.get(gw + "/api/commerce/v1/x", headers=behind) as r:  # as the ingress in front of it sends
            h = CIMultiDict((await r.json())["headers"])
        assert h["X-Forwarded-For"] == "203.0.113.7, 127.0.0.1"
        assert h["X-Forwarded-Proto"] == "https" and h["X-Forwarded-Host"] == "elysium.example.com"


async def test_each_prefix_reaches_its_own_service() -> None:
    def named(name: str) -> web.Application:
        async def handler(request: web.Request) -> web.Response:
            return web.json_response({"service": name, "path": request.path})
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        return app

    async with serving(named("commerce")) as c, serving(named("matchmaker")) as m, serving(named("spectator")) as sp, \
            serving(named("butler")) as b, gateway({"commerce": c, "matchmaker": m, "spectator": sp, "butler": b}) as gw, \
            aiohttp.ClientSession() as s:
        for name in ("commerce", "matchmaker", "spectator", "butler"):
            async with s.get(f"{gw}/api/{name}/v1/x") as r:
                assert await r.json() == {"service": name, "path": "/v1/x"}
        async with s.get(f"{gw}/api/ledger/v1/x") as r:
            assert r.status == 404 and r.content_type == "application/problem+json"


async def test_an_upstream_problem_passes_unchanged() -> None:
    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=409, body=b'{"type":"urn:elysium:problem:conflict","status":409,"code":"conflict"}',
                            content_type="application/problem+json", headers={"Retry-After": "3"})

    app = web.Application()
    app.router.add_post("/v1/trades", refuse)
    async with serving(app) as upstream, gateway({"commerce": upstream}) as gw, aiohttp.ClientSession() as s:
        async with s.post(gw + "/api/commerce/v1/trades", json={}) as r:
            assert r.status == 409 and r.content_type == "application/problem+json"
            assert r.headers["Retry-After"] == "3"
            assert (await r.json())["code"] == "conflict"


async def test_server_sent_events_arrive_one_by_one_before_the_upstream_finishes() -> None:
    """The stand-in writes one event, then waits until the test has read it through the gateway:
    a proxy that buffered the answer would never pass the first event, and the test would time out."""
    first_seen = asyncio.Event()
    finished = asyncio.Event()

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        await response.write(b"event: text\ndata: {\"delta\":\"hel\"}\n\n")
        await asyncio.wait_for(first_seen.wait(), 10)
        await response.write(b"event: done\ndata: {}\n\n")
        await response.write_eof()
        finished.set()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat", events)
    async with serving(app) as upstream, gateway({"butler": upstream}) as gw, aiohttp.ClientSession() as s:
        async with s.post(gw + "/api/butler/v1/chat", json={"message": "hi"}) as r:
            assert r.status == 200 and r.headers["Content-Type"] == "text/event-stream"
            assert "Content-Length" not in r.headers
            first = await asyncio.wait_for(r.content.readuntil(b"\n\n"), 5)
            assert first == b"event: text\ndata: {\"delta\":\"hel\"}\n\n"
            assert not finished.is_set()
            first_seen.set()
            rest = await asyncio.wait_for(r.content.read(), 5)
            assert rest == b"event: done\ndata: {}\n\n"


async def test_the_request_body_streams_to_the_upstream() -> None:
    got_first = asyncio.Event()
    received: list[bytes] = []

    async def upload(request: web.Request) -> web.Response:
        async for chunk in request.content.iter_any():
            received.append(chunk)
            got_first.set()
        return web.json_response({"bytes": sum(map(len, received))})

    app = web.Application()
    app.router.add_put("/v1/upload", upload)
    release = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield b"a" * 1000
        await asyncio.wait_for(release.wait(), 10)
        yield b"b" * 1000

    async with serving(app) as upstream, gateway({"commerce": upstream}) as gw, aiohttp.ClientSession() as s:
        sending = asyncio.ensure_future(s.put(gw + "/api/commerce/v1/upload", data=body()))
        await asyncio.wait_for(got_first.wait(), 5)  # the first chunk is there while the client still sends
        release.set()
        r = await sending
        assert r.status == 200 and await r.json() == {"bytes": 2000}
        r.release()


async def test_a_body_over_the_limit_is_refused_and_the_service_never_sees_it_whole() -> None:
    calls: list[int] = []

    async def take(request: web.Request) -> web.Response:
        body = await request.read()
        calls.append(len(body))
        return web.json_response({"bytes": len(body)})

    app = web.Application(client_max_size=10 * 1024 ** 2)
    app.router.add_post("/v1/x", take)
    async with serving(app) as upstream, \
            gateway({"commerce": upstream}, ELYSIUM_GATEWAY_MAX_BODY_BYTES="2048") as gw, aiohttp.ClientSession() as s:
        async with s.post(gw + "/api/commerce/v1/x", data=b"x" * 2048) as r:
            assert r.status == 200 and await r.json() == {"bytes": 2048}
        async with s.post(gw + "/api/commerce/v1/x", data=b"x" * 2049) as r:  # Content-Length says so: at once
            assert r.status == 413 and (await r.json())["code"] == "body-too-large"
        assert calls == [2048]

        async def chunked() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b"y" * 1000

        async with s.post(gw + "/api/commerce/v1/x", data=chunked()) as r:  # no length: counted as it streams
            assert r.status == 413 and (await r.json())["code"] == "body-too-large"
        assert calls == [2048] or all(n < 10_000 for n in calls[1:])


async def test_an_upstream_that_is_down_answers_502_problem_json() -> None:
    async with gateway({"commerce": dead_url()}) as gw, aiohttp.ClientSession() as s:
        async with s.get(gw + "/api/commerce/v1/me", headers={"Authorization": "Bearer t"}) as r:
            assert r.status == 502 and r.content_type == "application/problem+json"
            problem = await r.json()
        assert problem["type"].endswith("/upstream-unavailable") or problem["type"].endswith(":upstream-unavailable")
        assert problem["code"] == "upstream-unavailable" and "commerce is unreachable" in problem["detail"]
        assert r.headers["Retry-After"] == "1"
        async with s.get(gw + "/metrics") as r:
            text = await r.text()
        assert 'gateway_upstream_errors_total{code="upstream-unavailable",service="commerce"} 1.0' in text


async def test_an_upstream_that_does_not_begin_its_answer_in_time_answers_504() -> None:
    release = asyncio.Event()

    async def stall(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/v1/slow", stall)
    async with serving(app) as upstream, \
            gateway({"matchmaker": upstream}, ELYSIUM_GATEWAY_RESPONSE_TIMEOUT_S="0.5") as gw, \
            aiohttp.ClientSession() as s:
        async with s.get(gw + "/api/matchmaker/v1/slow") as r:
            assert r.status == 504 and (await r.json())["code"] == "upstream-timeout"
        release.set()


async def test_an_upstream_that_dies_mid_stream_ends_the_answer_early() -> None:
    async def half(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: 1\n\n")
        assert request.transport is not None
        request.transport.close()
        return response

    app = web.Application()
    app.router.add_get("/v1/events", half)
    async with serving(app) as upstream, gateway({"matchmaker": upstream}) as gw, aiohttp.ClientSession() as s:
        async with s.get(gw + "/api/matchmaker/v1/events") as r:
            assert r.status == 200
            assert await r.content.readuntil(b"\n\n") == b"data: 1\n\n"
            with pytest.raises(aiohttp.ClientPayloadError):
                await asyncio.wait_for(r.content.read(), 5)


async def test_a_request_that_is_not_http_is_refused_in_problem_json() -> None:
    async with gateway() as gw:
        host, port = URL(gw).host, URL(gw).port
        assert host and port
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GARBAGE\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.read(4096), 5)
        writer.close()
        assert head.split(b"\r\n")[0].endswith(b" 400 Bad Request") and b"application/problem+json" in head


async def test_a_browser_that_leaves_a_stream_ends_the_services_stream_too() -> None:
    gone = asyncio.Event()

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            for i in range(10_000):
                await response.write(f"data: {i}\n\n".encode())
                await asyncio.sleep(0.02)
        except (ConnectionResetError, asyncio.CancelledError):
            gone.set()
            raise
        return response

    app = web.Application(handler_args={"handler_cancellation": True})
    app.router.add_get("/v1/tickets/t-1/events", endless)
    async with serving(app) as upstream, gateway({"matchmaker": upstream}) as gw:
        async with aiohttp.ClientSession() as s:
            r = await s.get(gw + "/api/matchmaker/v1/tickets/t-1/events")
            assert await r.content.readuntil(b"\n\n") == b"data: 0\n\n"
            r.close()  # the browser leaves
        await asyncio.wait_for(gone.wait(), 5)
        async with aiohttp.ClientSession() as s, s.get(gw + "/metrics") as m:
            assert 'status="500"' not in await m.text()


async def test_connections_to_the_services_are_bounded_and_a_request_past_the_bound_is_502() -> None:
    release = asyncio.Event()

    async def hold(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: open\n\n")
        await release.wait()
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/v1/events", hold)
    async with serving(app) as upstream, \
            gateway({"matchmaker": upstream}, ELYSIUM_GATEWAY_MAX_UPSTREAM_CONNECTIONS="16",
                    ELYSIUM_GATEWAY_CONNECT_TIMEOUT_S="0.5") as gw, \
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as s:
        streams = [await s.get(gw + "/api/matchmaker/v1/events") for _ in range(16)]
        for r in streams:
            assert await r.content.readuntil(b"\n\n") == b"data: open\n\n"
        async with s.get(gw + "/api/matchmaker/v1/events") as r:
            assert r.status == 502 and (await r.json())["code"] == "upstream-unavailable"
        release.set()
        for r in streams:
            await r.read()
            r.release()
        async with s.get(gw + "/api/matchmaker/v1/events") as r:
            assert r.status == 200 and await r.read() == b"data: open\n\n"
