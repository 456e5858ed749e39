"""The gateway's routes: the services' APIs under ``/api/<service>``, the game servers' under
``/api/gameservers/<server_id>``, its own status, and (last) the web client."""

from __future__ import annotations

from aiohttp import web
from yarl import URL

from elysium import http
from elysium.problem import Problem
from gateway import proxy
from gateway.appkeys import GATEWAY, Gateway
from gateway.upstreams import SERVICES

STATUS_PATH = "/api/gateway/v1/status"
SERVICE_PATTERN = "|".join(SERVICES)


def _rest(request: web.Request, prefix_segments: int) -> str:
    """The request's raw (still percent-encoded) path after its first ``prefix_segments`` segments, and its query."""
    raw = request.rel_url.raw_path
    parts = raw.split("/", prefix_segments + 1)
    rest = "/" + parts[prefix_segments + 1] if len(parts) > prefix_segments + 1 else "/"
    query = request.rel_url.raw_query_string
    return rest + ("?" + query if query else "")


async def _pass(request: web.Request, gateway: Gateway, service: str, label: str, url: URL) -> web.StreamResponse:
    session = gateway.upstreams.session
    try:
        if proxy.is_websocket(request):
            gauge = gateway.metrics.websockets.labels(label)
            gauge.inc()
            try:
                return await proxy.proxy_websocket(request, session, service, str(url), gateway.limits)
            finally:
                gauge.dec()
        response = await proxy.proxy_http(request, session, service, url, gateway.limits)
    except Problem as exc:
        if exc.code in ("upstream-unavailable", "upstream-timeout"):
            gateway.metrics.upstream_errors.labels(label, exc.code).inc()
        raise
    gateway.metrics.upstream.labels(label, f"{response.status // 100}xx").inc()
    return response


async def service_api(request: web.Request) -> web.StreamResponse:
    gateway = request.app[GATEWAY]
    service = request.match_info["service"]
    url = URL(gateway.upstreams.base(service) + _rest(request, 2), encoded=True)
    return await _pass(request, gateway, service, service, url)


async def gameserver_api(request: web.Request) -> web.StreamResponse:
    gateway = request.app[GATEWAY]
    server_id = request.match_info["server_id"]
    base = await gateway.gameservers.http_url(server_id, request.headers.get("Authorization"))
    url = URL(base + _rest(request, 3), encoded=True)
    return await _pass(request, gateway, f"game server {server_id}", "gameserver", url)


async def status(request: web.Request) -> web.Response:
    return http.json_response(await request.app[GATEWAY].status.body(), headers={"Cache-Control": "no-store"})


def add_routes(app: web.Application) -> None:
    app.router.add_get(STATUS_PATH, status)
    app.router.add_route("*", "/api/{service:" + SERVICE_PATTERN + "}", service_api)
    app.router.add_route("*", "/api/{service:" + SERVICE_PATTERN + "}/{tail:.*}", service_api)
    app.router.add_route("*", "/api/gameservers/{server_id}", gameserver_api)
    app.router.add_route("*", "/api/gameservers/{server_id}/{tail:.*}", gameserver_api)


def add_web_client(app: web.Application) -> None:
    """Last: every other GET or HEAD is the web client's."""
    async def client(request: web.Request) -> web.StreamResponse:
        return await request.app[GATEWAY].web.handle(request)

    app.router.add_get("/{path:.*}", client)  # adds HEAD too
