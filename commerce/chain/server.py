"""``elysium chain``: the embedded chain (:mod:`commerce.chain.embedded`) served over JSON-RPC on HTTP.

``POST /`` takes a JSON-RPC request or batch; ``/healthz``, ``/readyz`` and ``/metrics`` are the
probes every service serves. The chain is replayed or deployed before the port opens, so a client
that can connect finds the contracts in place.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, generate_latest

from commerce.chain.embedded import EmbeddedChain, open_chain
from commerce.settings import ChainServerSettings
from elysium import http

CHAIN = web.AppKey("chain", EmbeddedChain)
MAX_BODY_BYTES = 4 * 1024 * 1024
OPENAPI = {"openapi": "3.1.0", "info": {"title": "Elysium embedded chain", "version": "1"},
           "paths": {"/": {"post": {"operationId": "jsonRpc", "summary": "Ethereum JSON-RPC (a request or a batch)",
                                    "responses": {"200": {"description": "the JSON-RPC answer"}}}}}}


def create_app(settings: ChainServerSettings) -> web.Application:
    registry = CollectorRegistry()
    requests = Counter("elysium_chain_rpc_requests_total", "JSON-RPC requests answered", ["method"],
                       registry=registry)
    app = http.application(client_max_size=MAX_BODY_BYTES)

    async def chain(app: web.Application) -> AsyncIterator[None]:
        evm = await open_chain(Path(settings.state_dir))
        app[CHAIN] = evm
        yield
        evm.close()

    async def rpc(request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read())
        except ValueError:
            return web.json_response({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}})
        for one in body if isinstance(body, list) else [body]:
            if isinstance(one, dict):
                requests.labels(str(one.get("method"))[:64]).inc()
        return web.json_response(app[CHAIN].handle(body))

    async def ready() -> http.Ready:
        return http.Ready(CHAIN in app, {"chain": CHAIN in app})

    app.cleanup_ctx.append(chain)
    app.router.add_post("/", rpc)
    http.add_probes(app, ready=ready, metrics=lambda: generate_latest(registry), openapi=OPENAPI)
    return app
