"""A stand-in of the Agones SDK sidecar's REST API (the endpoints docs/agones.md lists), recording calls.

It keeps the GameServer record the way the sidecar reports it: the state Ready, Allocated
or Shutdown, and labels and annotations under the ``agones.dev/sdk-`` prefix.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SDK_PREFIX = "agones.dev/sdk-"
STATES = {"/ready": "Ready", "/allocate": "Allocated", "/shutdown": "Shutdown"}


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    at: float


@dataclass
class AgonesSDKStandIn:
    name: str = "gameserver-abcde"
    calls: list[Recorded] = field(default_factory=list)
    state: str = "Scheduled"
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    failing: bool = False  # answer every call 500, as a sidecar that is not up yet would fail
    port: int = 0
    _runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application()
        for path in ("/ready", "/health", "/allocate", "/shutdown"):
            app.router.add_post(path, self._lifecycle)
        app.router.add_put("/metadata/label", self._metadata)
        app.router.add_put("/metadata/annotation", self._metadata)
        app.router.add_get("/gameserver", self._gameserver)
        app.router.add_get("/watch/gameserver", self._watch)
        return app

    async def start(self, port: int = 0) -> int:
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def paths(self, *, health: bool = False, reads: bool = False) -> list[str]:
        """The calls in order as ``METHOD PATH`` (labels with their value), Health and reads (GET)
        left out unless asked."""
        out = []
        for c in self.calls:
            if (c.path == "/health" and not health) or (c.method == "GET" and not reads):
                continue
            extra = f" {c.body['key']}={c.body['value']}" if c.path.startswith("/metadata/") else ""
            out.append(f"{c.method} {c.path}{extra}")
        return out

    async def _record(self, request: web.Request) -> Any:
        raw = await request.read()
        body = json.loads(raw) if raw else None
        self.calls.append(Recorded(request.method, request.path, body, time.monotonic()))
        if self.failing:
            raise web.HTTPInternalServerError(text='{"error":"not ready"}', content_type="application/json")
        if request.content_type != "application/json" or not isinstance(body, dict):
            raise web.HTTPBadRequest(text='{"error":"a JSON object is expected"}', content_type="application/json")
        return body

    async def _lifecycle(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        if body != {}:
            raise web.HTTPBadRequest(text='{"error":"the body is the empty message {}"}',
                                     content_type="application/json")
        if request.path in STATES:
            self.state = STATES[request.path]
        return web.json_response({})

    async def _metadata(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        if set(body) != {"key", "value"} or not all(isinstance(v, str) for v in body.values()):
            raise web.HTTPBadRequest(text='{"error":"key and value are strings"}', content_type="application/json")
        target = self.labels if request.path.endswith("/label") else self.annotations
        target[SDK_PREFIX + body["key"]] = body["value"]
        return web.json_response({})

    def record(self) -> dict[str, Any]:
        return {"object_meta": {"name": self.name, "namespace": "default", "labels": dict(self.labels),
                                "annotations": dict(self.annotations)},
                "status": {"state": self.state, "address": "10.0.0.7", "ports": [{"name": "play", "port": 7601}]}}

    async def _gameserver(self, request: web.Request) -> web.Response:
        self.calls.append(Recorded(request.method, request.path, None, time.monotonic()))
        return web.json_response(self.record())

    async def _watch(self, request: web.Request) -> web.StreamResponse:
        self.calls.append(Recorded(request.method, request.path, None, time.monotonic()))
        resp = web.StreamResponse()
        await resp.prepare(request)
        await resp.write((json.dumps({"result": self.record()}) + "\n").encode())
        await resp.write_eof()
        return resp
