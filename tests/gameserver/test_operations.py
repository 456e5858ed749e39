"""Health, readiness, metrics, the registry heartbeat, and drain on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from elysium import devtokens, keys, procs, redisreply
from gameserver.client import GameClient
from gameserver.modes import MODES, Arena
from gameserver.server import GameServer
from tests.gameserver.conftest import SERVER_ID, url
from tests.gameserver.rawclient import assert_bad_http_answered, http_exchange, problem_of
from tests.waiting import until


async def get(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}{path}") as r:
        return r.status, await r.text()


async def test_health_ready_metrics_and_not_found(game_server: GameServer, mint: Any) -> None:
    assert await get(game_server.port, "/healthz") == (200, '{"status":"ok"}')
    status, body = await get(game_server.port, "/readyz")
    assert status == 200 and json.loads(body)["ready"] is True
    c = GameClient(url(game_server))
    await c.join(mint("p1"))
    status, text = await get(game_server.port, "/metrics")
    assert status == 200
    assert "elysium_gameserver_players 1.0" in text
    assert 'elysium_gameserver_rooms{state="waiting"} 1.0' in text
    for name in ("tick_duration_seconds_bucket", "tick_lateness_seconds_bucket", "sent_bytes_total",
                 "frames_out_total", "frames_dropped_total", "rejected_inputs"):
        assert f"elysium_gameserver_{name}" in text
    assert (await get(game_server.port, "/nope"))[0] == 404
    await c.close()


async def test_bad_http_requests_get_clear_answers_and_change_nothing(game_server: GameServer) -> None:
    await assert_bad_http_answered(game_server.port, "/healthz", "/healthz", "/v1/play")
    missing = await http_exchange(game_server.port, b"GET /nowhere?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert problem_of(missing, 404, "not-found")["instance"] == "/nowhere"
    assert not game_server.rooms and await get(game_server.port, "/healthz") == (200, '{"status":"ok"}')


class Duel(Arena):
    """A second registered mode (the arena's rules under another name)."""

    name = "duel"


async def test_the_heartbeat_advertises_the_hosted_modes_and_joins_accept_them(
        server_factory: Any, redis_url: str, mint: Any, cleanup_servers: None) -> None:
    server = await server_factory(modes={**MODES, Duel.name: Duel})
    client = aioredis.from_url(redis_url)
    try:
        raw = await until(lambda: client.get(keys.server(SERVER_ID)), what="the first heartbeat")
        assert isinstance(raw, bytes)
        assert json.loads(raw)["modes"] == sorted({*MODES, "duel"})  # the shipped modes and the added one
        c = GameClient(url(server))
        assert (await c.join(mint("p1", "d1", mode="duel")))["t"] == "welcome"
        assert type(server.rooms["d1"].mode) is Duel
        await c.close()
    finally:
        await client.aclose()


async def test_a_mode_the_server_does_not_host_is_refused(game_server: GameServer, mint: Any) -> None:
    assert game_server.describe_server()["modes"] == sorted(MODES)
    c = GameClient(url(game_server))
    refused = await c.join(mint("p1", "d2", mode="duel"))
    assert refused["t"] == "error" and refused["code"] == "token_rejected"
    assert game_server.rooms == {}
    await c.close()


async def test_heartbeat_describes_the_server_and_vanishes_when_it_dies(server_factory: Any, redis_url: str,
                                                                        mint: Any, cleanup_servers: None) -> None:
    server = await server_factory(max_players=100, region="eu")
    client = aioredis.from_url(redis_url)
    try:
        raw = redisreply.blob(await until(lambda: client.get(keys.server(SERVER_ID)), what="the first heartbeat"))
        info = json.loads(raw)
        assert info["id"] == SERVER_ID and info["region"] == "eu" and info["seats_free"] == 100
        assert info["address"] == url(server) and info["draining"] is False
        assert await client.zscore(keys.SERVERS_LIVE, SERVER_ID) is not None
        c = GameClient(url(server))
        await c.join(mint("p1", seats=10))

        async def described() -> dict[str, Any] | None:
            info = json.loads(redisreply.blob(await client.get(keys.server(SERVER_ID))))
            return info if info["seats_free"] == 90 else None

        info = await until(described, what="a heartbeat counting the room")
        assert info["seats_free"] == 90 and info["rooms"] == 1 and info["players"] == 1
        await c.close()
        # A crashed server stops beating; its entry expires on its own (ttl 2 s in tests).
        for task in server._tasks:
            task.cancel()
        assert await client.get(keys.server(SERVER_ID)) is not None

        async def gone() -> bool:
            return await client.get(keys.server(SERVER_ID)) is None

        await until(gone, 5.0, what="the registry entry expiring")
    finally:
        await client.aclose()


async def test_sigterm_drains_running_matches_then_exits_zero(redis_url: str, keys_dir: Path, join_signer: Any,
                                                              tmp_path: Path) -> None:
    # The drain deadline leaves room for every check made while draining, even on a loaded
    # machine: a deadline shorter than those checks ended the match before they ran.
    drain_s = 6.0
    port = procs.free_port()
    env = {**os.environ, "ELYSIUM_REDIS_URL": redis_url, "ELYSIUM_JOIN_PUBLIC_KEY_FILE": str(keys_dir / "join.pub"),
           "ELYSIUM_SERVER_ID": "drain-1", "ELYSIUM_DRAIN_TIMEOUT_S": str(drain_s), "ELYSIUM_HEARTBEAT_S": "0.2",
           "ELYSIUM_HEARTBEAT_TTL_S": "2"}
    # Output goes to a file: a pipe nobody reads fills up and blocks the server.
    log = (tmp_path / "gameserver.log").open("w+")
    proc = subprocess.Popen([sys.executable, "-m", "elysium", "gameserver", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    client = aioredis.from_url(redis_url)
    try:
        procs.wait_for_port("127.0.0.1", port, 20, proc)
        ws = f"ws://127.0.0.1:{port}/v1/play"

        def token(player: str, match: str) -> str:
            room = devtokens.room_claim(seats=2, min_players=2, time_limit_s=60)
            return devtokens.mint_join(join_signer, match_id=match, player_id=player, server_id="drain-1", room=room)

        a, b = GameClient(ws), GameClient(ws)
        await a.join(token("a", "running"))
        await b.join(token("b", "running"))
        await a.expect("delta")
        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        # Draining: not ready, advertised as draining, no new matches, running match goes on.
        status, body = await until(lambda: _not_ready(port), what="/readyz turning 503")
        assert json.loads(body)["draining"] is True

        async def advertised_draining() -> dict[str, Any] | None:
            # /readyz turns first; the registry entry is rewritten by the beat that follows.
            raw = await client.get(keys.server("drain-1"))
            info = json.loads(raw) if raw else None
            return info if info and info["draining"] else None

        info = await until(advertised_draining, what="the registry entry saying draining")
        assert info["draining"] is True and info["seats_free"] == 0
        late = GameClient(ws)
        assert (await late.join(token("c", "new-match")))["code"] == "draining"
        delta = await a.expect("delta")
        assert delta["n"] > 0
        assert time.monotonic() - signalled < drain_s, "the checks above ran past the drain deadline"
        # At the deadline the match is ended, results go out, then a shutdown frame.
        end = None
        while a.shutdown is None and time.monotonic() - signalled < drain_s + 10:
            msg = await a.recv(timeout=drain_s + 5)
            if msg["t"] == "events":
                end = next((e for e in msg["e"] if e["k"] == "end"), end)
        assert end is not None and end["reason"] == "shutdown"
        assert a.shutdown is not None
        assert proc.wait(timeout=15) == 0
        entries = redisreply.stream_entries(await client.xrange(keys.RESULTS_STREAM))
        assert [e[1][b"match_id"] for e in entries] == [b"running"]
        assert await client.get(keys.server("drain-1")) is None  # it left the registry
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        await client.aclose()
        log.seek(0)
        print(log.read())  # shown by pytest when the test fails
        log.close()


async def _not_ready(port: int) -> tuple[int, str] | None:
    status, body = await get(port, "/readyz")
    return (status, body) if status == 503 else None


def test_a_bad_setting_stops_start_up_naming_the_variable(redis_url: str, keys_dir: Path) -> None:
    env = {**os.environ, "ELYSIUM_REDIS_URL": redis_url, "ELYSIUM_JOIN_PUBLIC_KEY_FILE": str(keys_dir / "join.pub"),
           "ELYSIUM_TICK_HZ": "500"}
    out = subprocess.run([sys.executable, "-m", "elysium", "gameserver", "--port", "0"], env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "ELYSIUM_TICK_HZ" in out.stderr and "between 1 and 60" in out.stderr
    env.pop("ELYSIUM_TICK_HZ")
    env.pop("ELYSIUM_REDIS_URL")
    out = subprocess.run([sys.executable, "-m", "elysium", "gameserver", "--port", "0"],
                         env={k: v for k, v in env.items()}, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "ELYSIUM_REDIS_URL" in out.stderr
