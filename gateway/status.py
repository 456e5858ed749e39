"""``GET /api/gateway/v1/status``: the version, each service's readiness and where Grafana is.

Each service's ``/readyz`` is asked at most once per ``cache_s`` (all at once, each within
``PROBE_TIMEOUT_S``); a service that does not answer 200 in time is ``ready: false``. The
gateway's own ``/readyz`` is the same check: ready when commerce answers (the rest is optional).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp

from elysium import __version__
from gateway.upstreams import SERVICES, Upstreams

PROBE_TIMEOUT_S = 1.5


@dataclass(frozen=True)
class _Seen:
    at: float
    ready: dict[str, bool]


class Status:
    def __init__(self, upstreams: Upstreams, cache_s: float, grafana_url: str | None) -> None:
        self._upstreams = upstreams
        self._cache_s = cache_s
        self._grafana_url = grafana_url or None
        self._seen: _Seen | None = None
        self._lock = asyncio.Lock()

    async def readiness(self) -> dict[str, bool]:
        seen = self._seen
        if seen is not None and time.monotonic() - seen.at < self._cache_s:
            return seen.ready
        async with self._lock:
            seen = self._seen
            if seen is None or time.monotonic() - seen.at >= self._cache_s:
                answers = await asyncio.gather(*(self._ready(s) for s in SERVICES))
                seen = self._seen = _Seen(time.monotonic(), dict(zip(SERVICES, answers, strict=True)))
        return seen.ready

    async def _ready(self, service: str) -> bool:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S), self._upstreams.session.get(
                    self._upstreams.url(service, "/readyz")) as answer:
                await answer.read()
                return answer.status == 200
        except (TimeoutError, aiohttp.ClientError):
            return False

    async def body(self) -> dict[str, object]:
        ready = await self.readiness()
        return {"version": __version__, "services": {name: {"ready": ready[name]} for name in SERVICES},
                "grafana_url": self._grafana_url}
