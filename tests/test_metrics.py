"""Every service's ``/metrics``, scraped over real HTTP, is valid Prometheus text and follows the naming rules.

``promtool check metrics`` lints it too when promtool is on the PATH (the Debian package
``prometheus`` has it); the parser and the rules below run either way.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from tests.commerce.conftest import client_for, settings  # noqa: F401
from tests.gameserver.conftest import game_server, server_factory  # noqa: F401
from tests.matchmaker.conftest import (auth, fake_server, mm, mm_factory, mm_settings, player_token,  # noqa: F401
                                      rclient, services)
from tests.spectator.conftest import relay, relay_factory  # noqa: F401

PROCESS = ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
           "process_start_time_seconds")
BASE_UNITS = ("seconds", "bytes")
# Units Prometheus names use only in their base form (seconds, bytes).
NOT_BASE_UNITS = {"ms", "msec", "millis", "milliseconds", "us", "microseconds", "ns", "nanoseconds", "minutes",
                  "hours", "kb", "kib", "mb", "mib", "gb", "gib", "kilobytes", "megabytes"}
LIBRARY_SUFFIXES = ("_created",)  # prometheus_client's creation time of each counter and histogram


def naming_problems(text: str, prefix: str) -> list[str]:
    """What breaks the Prometheus text format or our naming rules in ``text`` (empty: none)."""
    problems: list[str] = []
    for family in text_string_to_metric_families(text):  # raises on text that is not the exposition format
        name, kind = family.name, family.type
        if name.endswith(LIBRARY_SUFFIXES) and kind == "gauge":
            continue
        if not name.startswith((prefix, "process_")):
            problems.append(f"{name}: not under {prefix} (or the standard process_ names)")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            problems.append(f"{name}: not snake_case")
        words = name.split("_")
        for word in NOT_BASE_UNITS & set(words):
            problems.append(f"{name}: {word!r} is not a base unit (use seconds or bytes)")
        for unit in BASE_UNITS:
            if unit in words and words[-1] != unit:
                problems.append(f"{name}: a {unit} metric ends in _{unit}" + ("_total" if kind == "counter" else ""))
        if kind == "counter":
            bad = {s.name for s in family.samples if not s.name.endswith(("_total", "_created"))}
            if bad:
                problems.append(f"{name}: counter samples {sorted(bad)} do not end in _total")
        elif name.endswith("_total"):
            problems.append(f"{name}: a {kind} named like a counter (_total)")
        if kind in ("histogram", "summary") and words[-1] not in BASE_UNITS:
            problems.append(f"{name}: a {kind} ends in its unit (_seconds or _bytes)")
        if not family.documentation:
            problems.append(f"{name}: no help text")
    return problems


def check(text: str, prefix: str) -> dict[str, str]:
    """Assert ``text`` passes; returns each sample's type (``name{labels}`` -> counter, gauge, ...)."""
    assert naming_problems(text, prefix) == []
    promtool = shutil.which("promtool")
    if promtool is not None:
        run = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
        assert run.returncode == 0 and not run.stdout.strip(), (run.stdout + run.stderr).decode()
    kinds: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            kinds[f"{sample.name}{{{labels}}}" if labels else sample.name] = family.type
    for name in PROCESS:
        assert name in kinds, f"{name} is missing"
    return kinds


def samples(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return out


async def scrape(port: int) -> str:
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/metrics") as r:
        assert r.status == 200 and r.content_type == "text/plain"
        return await r.text()


def test_the_rules_catch_what_they_are_for() -> None:
    bad = ("# HELP elysium_x_done Things done\n# TYPE elysium_x_done gauge\nelysium_x_done 3\n"
           "# HELP elysium_x_sent_total Bytes\n# TYPE elysium_x_sent_total gauge\nelysium_x_sent_total 1\n"
           "# HELP elysium_x_bytes_out_total Out\n# TYPE elysium_x_bytes_out_total counter\nelysium_x_bytes_out_total 1\n"
           "# HELP elysium_x_wait_ms Wait\n# TYPE elysium_x_wait_ms histogram\nelysium_x_wait_ms_bucket{le=\"+Inf\"} 1\n"
           "elysium_x_wait_ms_count 1\nelysium_x_wait_ms_sum 1\n"
           "# HELP other_thing Other\n# TYPE other_thing gauge\nother_thing 1\n")
    found = naming_problems(bad, "elysium_x_")
    assert any(p.startswith("elysium_x_sent_total: a gauge named like a counter") for p in found)
    assert any(p.startswith("elysium_x_bytes_out: a bytes metric ends in _bytes_total") for p in found)
    assert any(p.startswith("elysium_x_wait_ms: 'ms' is not a base unit") for p in found)
    assert any(p.startswith("elysium_x_wait_ms: a histogram ends in its unit") for p in found)
    assert any(p.startswith("other_thing: not under elysium_x_") for p in found)
    assert not any(p.startswith("elysium_x_done") for p in found)
    with pytest.raises(ValueError):
        naming_problems("elysium_x_broken{ 1\n", "elysium_x_")


async def test_game_server_metrics(game_server: Any) -> None:
    kinds = check(await scrape(game_server.port), "elysium_gameserver_")
    assert kinds["elysium_gameserver_sent_bytes_total"] == "counter"


async def test_relay_metrics(relay: Any) -> None:
    kinds = check(await scrape(relay.port), "elysium_spectator_")
    assert kinds["elysium_spectator_sent_bytes_total"] == "counter"
    assert kinds["elysium_spectator_replay_slots_used"] == "gauge"


async def test_commerce_metrics(client_for: Callable[..., Awaitable[Any]], settings: Any) -> None:  # noqa: F811
    client = await client_for(settings)
    kinds = check(await scrape(client.server.port), "elysium_commerce_")
    for name in ("transaction_retries", "rewards_results_processed", "rewards_granted", "rewards_duplicates",
                 "rewards_rejected"):
        assert kinds[f"elysium_commerce_{name}_total"] == "counter"


async def test_matchmaker_metrics_and_queue_depth(mm: Any, auth: Any, rclient: aioredis.Redis) -> None:  # noqa: F811
    async def queue(players: list[str], mode: str) -> None:
        for p in players:
            resp = await mm.post("/v1/tickets", json={"mode": mode, "regions": {"local": 20}}, headers=auth(p))
            assert resp.status == 201, await resp.text()

    await queue(["a1", "a2", "a3", "a4", "a5"], "arena")
    await queue(["d1"], "duel")
    await services(mm).matcher.run_pass()  # no game server yet: everybody waits
    text = await scrape(mm.server.port)
    check(text, "elysium_matchmaker_")
    values = samples(text)
    assert values['elysium_matchmaker_tickets_waiting{mode="arena"}'] == 5
    assert values['elysium_matchmaker_tickets_waiting{mode="duel"}'] == 1
    assert values['elysium_matchmaker_tickets_waiting{mode="squads"}'] == 0
    await fake_server(rclient, "gs-a", seats_free=40)
    assert (await services(mm).matcher.run_pass()).matches == 1
    values = samples(await scrape(mm.server.port))
    assert values['elysium_matchmaker_tickets_waiting{mode="arena"}'] == 1  # four left in the match
    assert values['elysium_matchmaker_tickets_waiting{mode="duel"}'] == 1
