"""Start each service for real, give it a little traffic, and read the metric names its ``/metrics`` exports.

The names are those Prometheus stores: a counter's ``NAME_total`` (and ``NAME_created``), a
histogram's base name with ``_bucket``, ``_sum``, ``_count`` and ``_created``, a gauge's own name.
They come from each family the service declares, so a labelled metric with no series yet still
counts; :func:`series_names` gives only the names with at least one sample.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from gameserver.client import GameClient
from gameserver.server import GameServer
from spectator.server import SpectatorServer

SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("", "_bucket", "_sum", "_count", "_created"),
    "gaugehistogram": ("", "_bucket", "_gsum", "_gcount"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}


def exported_names(text: str) -> set[str]:
    """Every series name a scrape of ``text`` can produce (Prometheus exposition format)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def series_names(text: str) -> set[str]:
    """The names in ``text`` that have at least one sample."""
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


async def scrape(port: int) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as resp:
        assert resp.status == 200, f"/metrics on port {port} answered {resp.status}"
        return await resp.text()


async def _probe(port: int, *paths: str) -> None:
    """GETs ``paths`` (probes, a missing page), so the HTTP request counters have labelled series."""
    async with aiohttp.ClientSession() as session:
        for path in paths:
            async with session.get(f"http://127.0.0.1:{port}{path}") as resp:
                await resp.read()


async def game_server_metrics(server_factory: Callable[..., Awaitable[GameServer]], mint: Callable[..., str]) -> str:
    """A game server with one player seated and one join refused."""
    server = await server_factory()
    url = f"ws://127.0.0.1:{server.port}/v1/play"
    seated, refused = GameClient(url), GameClient(url)
    try:
        welcome = await seated.join(mint("p1"))
        assert welcome["t"] == "welcome", welcome
        refusal = await refused.join("not-a-jwt")
        assert refusal["t"] == "error", refusal
    finally:
        await refused.close()
    await _probe(server.port, "/healthz", "/readyz")
    text = await scrape(server.port)
    await seated.close()
    return text


async def matchmaker_metrics(mm_factory: Callable[..., Awaitable[TestClient[Any, Any]]],
                             auth: Callable[[str], dict[str, str]]) -> str:
    """A matchmaker with a ticket queued and a refused request."""
    mm = await mm_factory()
    resp = await mm.post("/v1/tickets", json={"mode": "arena", "regions": {"local": 20}}, headers=auth("p1"))
    assert resp.status == 201, await resp.text()
    await mm.get("/v1/tickets", headers={"Authorization": "Bearer nonsense"})
    port = mm.server.port
    assert port is not None
    await _probe(port, "/healthz", "/readyz", "/no-such-page")
    return await scrape(port)


async def relay_metrics(relay_factory: Callable[..., Awaitable[SpectatorServer]]) -> str:
    relay = await relay_factory()
    await _probe(relay.port, "/healthz", "/readyz", "/v1/matches")
    return await scrape(relay.port)


async def http_service_metrics(client: TestClient[Any, Any]) -> str:
    """Commerce or the butler, started by its test fixture: probes and a missing page, then a scrape."""
    port = client.server.port
    assert port is not None
    await _probe(port, "/healthz", "/readyz", "/v1/openapi.json", "/no-such-page")
    return await scrape(port)


def families(text: str) -> dict[str, set[str]]:
    """Each metric family in ``text`` with the series names it produces (a counter's ``_total``, ...)."""
    out: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        if family.type == "gauge" and family.name.endswith("_created"):
            continue  # the client library's creation time of a counter or histogram, not a metric of ours
        out[family.name] = {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))} - {
            family.name + "_created"}
    return out
