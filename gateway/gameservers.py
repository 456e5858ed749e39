"""Where each game server's own HTTP port is: the matchmaker's ``GET /v1/admin/servers``, kept briefly.

The list is asked for with the caller's own ``Authorization`` (it is an operator route); a refusal is
the caller's answer (401, 403 as the matchmaker said it), never cached. A list that was given is kept
``cache_s`` seconds for everyone: it holds addresses only, and each game server checks the token of
every request the gateway passes to it. An id not on a fresh list answers 404.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.parse
from dataclasses import dataclass

import aiohttp

from elysium.problem import CODE, Problem
from gateway.proxy import upstream_timeout, upstream_unavailable
from gateway.upstreams import Upstreams

SERVERS_PATH = "/v1/admin/servers"
SERVER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
LOOKUP_TIMEOUT_S = 5.0


def unknown_server(server_id: str) -> Problem:
    return Problem(404, "unknown-server", "No such game server",
                   f"no game server {server_id[:128]} is registered with the matchmaker")


@dataclass(frozen=True)
class _Listed:
    at: float
    http_urls: dict[str, str]


def _http_urls(body: object) -> dict[str, str]:
    """server_id -> http_url from the matchmaker's answer; rows without a usable http(s) URL are left out."""
    servers = body.get("servers") if isinstance(body, dict) else None
    out: dict[str, str] = {}
    for row in servers if isinstance(servers, list) else ():
        if not isinstance(row, dict):
            continue
        server_id, url = row.get("server_id"), row.get("http_url")
        if not (isinstance(server_id, str) and isinstance(url, str)):
            continue
        if urllib.parse.urlsplit(url).scheme in ("http", "https"):
            out[server_id] = url.rstrip("/")
    return out


class GameServers:
    def __init__(self, upstreams: Upstreams, cache_s: float) -> None:
        self._upstreams = upstreams
        self._cache_s = cache_s
        self._listed: _Listed | None = None
        self._lock = asyncio.Lock()

    async def http_url(self, server_id: str, authorization: str | None) -> str:
        """The base URL of ``server_id``'s HTTP port; a :class:`Problem` when unknown or the list is refused."""
        if not SERVER_ID.fullmatch(server_id):
            raise unknown_server(server_id)
        listed = self._listed
        if listed is not None and time.monotonic() - listed.at <= self._cache_s and server_id in listed.http_urls:
            return listed.http_urls[server_id]
        async with self._lock:  # one look-up at a time; those waiting reuse its answer
            listed = self._listed
            if listed is None or time.monotonic() - listed.at > min(self._cache_s, 0.25) \
                    or server_id not in listed.http_urls:
                listed = await self._fetch(authorization)
        if server_id not in listed.http_urls:
            raise unknown_server(server_id)
        return listed.http_urls[server_id]

    async def _fetch(self, authorization: str | None) -> _Listed:
        headers = {"Accept": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        try:
            async with asyncio.timeout(LOOKUP_TIMEOUT_S), self._upstreams.session.get(
                    self._upstreams.url("matchmaker", SERVERS_PATH), headers=headers) as answer:
                raw = await answer.read()
                status, content_type = answer.status, answer.headers.get("Content-Type", "")
        except TimeoutError:
            raise upstream_timeout("matchmaker", LOOKUP_TIMEOUT_S) from None
        except aiohttp.ClientError:
            raise upstream_unavailable("matchmaker", "the list of game servers could not be read") from None
        if status != 200:
            problem = _problem_of(raw, content_type)
            detail, code = str(problem.get("detail") or ""), str(problem.get("code") or "")
            if not CODE.fullmatch(code):
                code = ""
            if status in (401, 403):
                raise Problem(status, code or ("unauthorized" if status == 401 else "forbidden"),
                              detail=f"the matchmaker refused the list of game servers: {detail or status}")
            raise upstream_unavailable("matchmaker", f"the list of game servers answered {status}")
        try:
            body = json.loads(raw)
        except ValueError:
            raise upstream_unavailable("matchmaker", "the list of game servers is not JSON") from None
        listed = _Listed(time.monotonic(), _http_urls(body))
        self._listed = listed
        return listed


def _problem_of(raw: bytes, content_type: str) -> dict[str, object]:
    if "json" not in content_type:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
