"""The gateway, wired in one place: :func:`create_app` (``elysium gateway`` runs it).

Its routes, in the order they match: the probes, ``/api/gateway/v1/status``, the proxied APIs
(``/api/<service>/…``, ``/api/gameservers/<server_id>/…``), ``/graphql`` (mounted from
:mod:`gateway.graphql`), then the web client for every other ``GET``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from elysium import http
from elysium.problem import shared
from gateway import openapi, routes
from gateway.appkeys import GATEWAY, Gateway
from gateway.gameservers import GameServers
from gateway.metrics import GatewayMetrics
from gateway.proxy import Limits
from gateway.settings import GatewaySettings
from gateway.static import WebClient
from gateway.status import Status
from gateway.upstreams import UPSTREAMS, Upstreams

log = logging.getLogger("gateway")


def create_app(settings: GatewaySettings) -> web.Application:
    metrics = GatewayMetrics()
    upstreams = Upstreams(settings.upstream_urls(), connect_timeout_s=settings.connect_timeout_s,
                          limit=settings.max_upstream_connections)
    gateway = Gateway(settings=settings, metrics=metrics, upstreams=upstreams,
                      limits=Limits(settings.max_body_bytes, settings.response_timeout_s, settings.idle_timeout_s,
                                    settings.connect_timeout_s),
                      gameservers=GameServers(upstreams, settings.servers_cache_s),
                      status=Status(upstreams, settings.status_cache_s, settings.grafana_url),
                      web=WebClient(settings.web_root()))
    # the body limit is the proxy's (it streams bodies); this one bounds what aiohttp reads itself (GraphQL's)
    app = http.application(observe=metrics.http.observe, client_max_size=settings.max_body_bytes)
    app[GATEWAY] = gateway
    app[UPSTREAMS] = upstreams
    app.cleanup_ctx.append(_lifecycle)
    app.on_shutdown.append(_on_shutdown)
    http.add_probes(app, ready=lambda: ready(gateway), metrics=metrics.render, openapi=openapi.build())
    routes.add_routes(app)
    _mount_graphql(app, upstreams)
    routes.add_web_client(app)
    return app


def _mount_graphql(app: web.Application, upstreams: Upstreams) -> None:
    try:
        from gateway.graphql import graphql_routes
    except ImportError as exc:
        if exc.name not in ("gateway.graphql",) and "graphql_routes" not in str(exc):
            raise
        log.warning("no GraphQL endpoint: gateway.graphql provides no graphql_routes")

        async def absent(request: web.Request) -> web.Response:
            raise shared("not-found", "this gateway serves no GraphQL endpoint")

        app.router.add_route("*", "/graphql", absent)
        return
    graphql_routes(app, upstreams)


async def ready(gateway: Gateway) -> http.Ready:
    if gateway.draining:
        return http.Ready(False, {"draining": True, "services": {}})
    services = await gateway.status.readiness()
    return http.Ready(services["commerce"], {"services": services})


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    upstreams = app[UPSTREAMS]
    await upstreams.open()
    gateway = app[GATEWAY]
    if not gateway.web.built():
        log.warning("the web client is not built", extra={"web_dir": str(gateway.web.root)})
    yield
    await upstreams.close()


async def _on_shutdown(app: web.Application) -> None:
    app[GATEWAY].draining = True
