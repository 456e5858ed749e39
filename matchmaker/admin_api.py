"""The operator's view of the matchmaker: ``/v1/admin/servers`` and ``/v1/admin/queues``.

Both need a service token with the ``matchmaker:admin`` scope (``docs/tokens.md``); the
matchmaker verifies service tokens once ``ELYSIUM_SERVICE_PUBLIC_KEY_FILE`` is set.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from elysium import http, redisreply, scopes
from elysium import keys as shared_keys
from matchmaker import errors, keys
from matchmaker.app import SERVICES, Services

MAX_SERVERS = 1000  # listed at most (a registry larger than this is a fleet for a real dashboard)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/admin/servers", list_servers)
    app.router.add_get("/v1/admin/queues", list_queues)


def operator(request: web.Request) -> Services:
    """The services, once the request carries a service token with ``matchmaker:admin``."""
    svc: Services = request.app[SERVICES]
    token = http.bearer(request)  # no token: 401, whether or not the admin API is enabled
    if svc.service_auth is None:
        raise scopes.admin_disabled()
    scopes.require(svc.service_auth.claims(token), scopes.MATCHMAKER_ADMIN)
    if request.query:
        raise errors.invalid(f"unknown query parameters: {', '.join(sorted(request.query))[:200]}; "
                             "this route takes none")
    return svc


def http_url(heartbeat: dict[str, Any]) -> str:
    """The base of the game server's own HTTP port: the heartbeat's ``http_url``, else its ws address's origin."""
    given = heartbeat.get("http_url")
    if isinstance(given, str) and given:
        return given.rstrip("/")
    parts = urlsplit(str(heartbeat.get("address", "")))
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme or "http")
    return f"{scheme}://{parts.netloc}"


def server_row(server_id: str, heartbeat: dict[str, Any]) -> dict[str, Any]:
    return {"server_id": server_id, "http_url": http_url(heartbeat), "ws_url": str(heartbeat.get("address", "")),
            "region": str(heartbeat.get("region", "")), "modes": [str(m) for m in heartbeat.get("modes", ())],
            "rooms": int(heartbeat.get("rooms", 0)), "players": int(heartbeat.get("players", 0)),
            "capacity": int(heartbeat.get("capacity", 0)), "seats_free": int(heartbeat.get("seats_free", 0)),
            "draining": bool(heartbeat.get("draining", False)), "last_seen": int(heartbeat.get("ts_ms", 0))}


async def list_servers(request: web.Request) -> web.Response:
    svc = operator(request)
    names = redisreply.texts(await svc.redis.zrevrange(shared_keys.SERVERS_LIVE, 0, MAX_SERVERS - 1))
    servers: list[dict[str, Any]] = []
    if names:
        raw = await svc.redis.mget([shared_keys.server(name) for name in names])
        for name, body in zip(names, raw, strict=True):
            value = redisreply.optional_blob(body)
            if value is None:
                continue  # its heartbeat expired: the server is gone
            try:
                beat = json.loads(value)
                servers.append(server_row(name, beat))
            except (ValueError, TypeError, AttributeError):
                continue  # a malformed heartbeat is not shown as a server
    servers.sort(key=lambda s: s["server_id"])
    return http.json_response({"servers": servers})


def _percentile(values: list[int], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000, 3)


async def list_queues(request: web.Request) -> web.Response:
    svc = operator(request)
    modes = list(svc.modes)
    now_ms = int(time.time() * 1000)
    async with svc.redis.pipeline(transaction=False) as pipe:
        for mode in modes:
            pipe.zcard(keys.queue(mode))
            pipe.zrange(keys.queue(mode), 0, 0, withscores=True)
            pipe.hgetall(keys.waiting(mode))
            pipe.lrange(keys.waits(mode), 0, -1)
        raw = redisreply.each(await pipe.execute(), 4 * len(modes))
    out = []
    for i, mode in enumerate(modes):
        tickets, oldest, waiting, waits = raw[4 * i: 4 * i + 4]
        ranked = redisreply.scored(oldest)
        first = ranked[0][1] if ranked else None
        recent = redisreply.integers(waits)
        regions = redisreply.int_map(waiting)
        out.append({"mode": mode, "tickets_waiting": redisreply.integer(tickets),
                    "players_waiting": sum(regions.values()), "regions": regions,
                    "oldest_wait_s": None if first is None else round(max(0, now_ms - float(first)) / 1000, 1),
                    "recent_matched_tickets": len(recent), "wait_p50_s": _percentile(recent, 0.5),
                    "wait_p90_s": _percentile(recent, 0.9)})
    return http.json_response({"queues": out})
