"""The real services behind the gateway's GraphQL endpoint, for its tests.

``stack`` (one per test) is the butler's world (real commerce and matchmaker on free ports,
``tests/butler/world.py``), a real spectator relay on the same Redis, and the gateway built by
its own ``create_app`` in front of the three. ``stack.query(q, variables, player)`` posts to
``/graphql`` as that player (or signed out); ``stack.reads()`` counts the requests each service
has answered so far, from the services' own request metrics, so a test sees how many upstream
reads a query made.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from commerce.appkeys import METRICS as COMMERCE_METRICS
from spectator.server import SpectatorServer
from tests.butler.world import World, world  # noqa: F401 (fixtures)
from tests.butler.world import admin_token, client_for, mm_factory, mm_settings  # noqa: F401 (fixtures)
from tests.gateway.servers import gateway
from tests.matchmaker.conftest import services
from tests.spectator.conftest import relay_factory  # noqa: F401 (fixture)

__all__ = ["Stack", "admin_token", "client_for", "mm_factory", "mm_settings", "relay_factory", "stack", "world"]


@dataclass
class Stack:
    world: World
    relay: SpectatorServer
    url: str
    session: aiohttp.ClientSession

    async def post(self, body: Any, headers: dict[str, str] | None = None) -> aiohttp.ClientResponse:
        async with self.session.post(self.url + "/graphql", json=body, headers=headers or {}) as resp:
            await resp.read()
            return resp

    async def query(self, query: str, variables: dict[str, Any] | None = None,
                    player: dict[str, Any] | None = None) -> dict[str, Any]:
        """The JSON answer of one GraphQL request (always HTTP 200 with data and/or errors)."""
        headers = dict(player["headers"]) if player else {}
        async with self.session.post(self.url + "/graphql", json={"query": query, "variables": variables or {}},
                                     headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            body: dict[str, Any] = await resp.json()
            return body

    def reads(self) -> Counter[tuple[str, str]]:
        """(service, "METHOD route") -> requests answered so far, as the services count them."""
        out: Counter[tuple[str, str]] = Counter()
        counts = (("commerce", self.world.commerce.app[COMMERCE_METRICS].http.counts),
                  ("matchmaker", services(self.world.mm).metrics.http.counts))
        for service, table in counts:
            for (method, route, _status), n in table.items():
                out[(service, f"{method} {route}")] += n
        return out

    async def player(self, name: str | None = None, **kwargs: Any) -> dict[str, Any]:
        return await self.world.player(name or f"P-{uuid.uuid4().hex[:6]}", **kwargs)


def made(before: Counter[tuple[str, str]], after: Counter[tuple[str, str]]) -> Counter[tuple[str, str]]:
    """The requests made between two :meth:`Stack.reads`."""
    return Counter({k: after[k] - before[k] for k in after if after[k] != before[k]})


@pytest.fixture
async def stack(world: World,  # noqa: F811
                relay_factory: Callable[..., Awaitable[SpectatorServer]],  # noqa: F811
                redis_url: str) -> AsyncIterator[Stack]:
    relay = await relay_factory(redis=redis_url)
    urls = {"commerce": world.commerce_url, "matchmaker": world.matchmaker_url,
            "spectator": f"http://127.0.0.1:{relay.port}"}
    async with gateway(urls) as url, aiohttp.ClientSession() as session:
        yield Stack(world=world, relay=relay, url=url, session=session)
