"""The services behind the gateway: their base URLs and the one HTTP client every request to them shares.

The proxy and the GraphQL resolvers both use it (``app[UPSTREAMS]``): ``upstreams.url("commerce", "/v1/me")``
is commerce's ``/v1/me``, and ``upstreams.session`` is the shared ``aiohttp.ClientSession`` (made in the
app's start-up, closed in its clean-up; no cookies kept, so one player's answer never leaks into another's).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

import aiohttp
from aiohttp import web

Service = Literal["commerce", "matchmaker", "spectator", "butler"]
SERVICES: tuple[Service, ...] = ("commerce", "matchmaker", "spectator", "butler")


class UnknownService(KeyError):
    """A service name the gateway does not front (our bug, not the client's: routes name only known ones)."""


class Upstreams:
    """Base URLs (``http://host:port``, no trailing slash) of the services, and one shared client session."""

    def __init__(self, urls: Mapping[str, str], *, connect_timeout_s: float = 5.0, limit: int = 4096) -> None:
        unknown = set(urls) - set(SERVICES)
        if unknown:
            raise UnknownService(", ".join(sorted(unknown)))
        self.urls: Mapping[str, str] = MappingProxyType({name: url.rstrip("/") for name, url in urls.items()})
        self._connect_timeout_s = connect_timeout_s
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    def base(self, service: str) -> str:
        """The base URL of ``service`` (``UnknownService`` when it is not one the gateway fronts)."""
        try:
            return self.urls[service]
        except KeyError:
            raise UnknownService(service) from None

    def url(self, service: str, path: str) -> str:
        """``path`` (beginning with ``/``) on ``service``: ``url("commerce", "/v1/me")``."""
        if not path.startswith("/"):
            path = "/" + path
        return self.base(service) + path

    @property
    def session(self) -> aiohttp.ClientSession:
        """The shared client session; only while the app runs (between start-up and clean-up)."""
        if self._session is None or self._session.closed:
            raise RuntimeError("the upstream session is open only while the gateway runs")
        return self._session

    async def open(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit, ttl_dns_cache=30)
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=None, connect=self._connect_timeout_s))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


UPSTREAMS = web.AppKey("upstreams", Upstreams)
