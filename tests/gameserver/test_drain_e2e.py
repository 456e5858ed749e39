"""A scale-down never cuts a match: ``elysium gameserver`` as a process, with a live match of
two players, receives SIGTERM, leaves the registry (no matchmaker can place a match on it)
within one heartbeat, keeps playing the match to its time limit, writes its result and exits
0 before its grace period, derived as the manifests derive it (drain timeout + the Fleet's
margin)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import yaml  # type: ignore[import-untyped]

from elysium import devtokens, keys, procs, redisreply, tokens
from elysium.results import MatchResult
from gameserver.client import GameClient
from matchmaker.registry import ServerRegistry
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[2]
FLEET = ROOT / "k8s" / "overlays" / "agones" / "component" / "fleet.yaml"
SERVER_ID = "drain-e2e-1"
HEARTBEAT_S = 1.0
DRAIN_S = 12.0
MATCH_S = 4.0


def grace_margin_s() -> float:
    """The Fleet's terminationGracePeriodSeconds less its ELYSIUM_DRAIN_TIMEOUT_S: what a pod
    gets past its drain before Kubernetes kills it."""
    fleet = yaml.safe_load(FLEET.read_text())
    pod = fleet["spec"]["template"]["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == "gameserver")
    drain = next(float(e["value"]) for e in container["env"] if e["name"] == "ELYSIUM_DRAIN_TIMEOUT_S")
    margin = float(pod["terminationGracePeriodSeconds"]) - drain
    assert margin > 0, "the grace period must outlast the drain"
    return margin


async def test_sigterm_leaves_the_registry_at_once_and_the_match_plays_to_its_end(
        redis_url: str, keys_dir: Path, join_signer: tokens.Signer, tmp_path: Path) -> None:
    grace_s = DRAIN_S + grace_margin_s()
    port = procs.free_port()
    env = {**os.environ, "ELYSIUM_REDIS_URL": redis_url, "ELYSIUM_JOIN_PUBLIC_KEY_FILE": str(keys_dir / "join.pub"),
           "ELYSIUM_SERVER_ID": SERVER_ID, "ELYSIUM_DRAIN_TIMEOUT_S": str(DRAIN_S),
           "ELYSIUM_HEARTBEAT_S": str(HEARTBEAT_S), "ELYSIUM_HEARTBEAT_TTL_S": "3",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    log = (tmp_path / "gameserver.log").open("w+")  # a pipe nobody reads would block the server
    proc = subprocess.Popen([sys.executable, "-m", "elysium", "gameserver", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    client = aioredis.from_url(redis_url)
    registry = ServerRegistry(client, fresh_s=3.0, hold_s=30.0, policy="pack")
    players = [GameClient(f"ws://127.0.0.1:{port}/v1/play") for _ in range(2)]
    try:
        procs.wait_for_port("127.0.0.1", port, 20, proc)
        room = devtokens.room_claim(seats=2, min_players=2, time_limit_s=MATCH_S, score_limit=1000)
        for c, name in zip(players, ("ann", "ben"), strict=True):
            await c.join(devtokens.mint_join(join_signer, match_id="drained", player_id=name, server_id=SERVER_ID,
                                             room=room))
        await players[0].expect("delta")

        async def placeable() -> bool:
            live = await registry.live()
            return any(s.server_id == SERVER_ID and s.seats_free > 0 for s in live)

        await until(placeable, what="the server placeable before SIGTERM")
        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        await until(lambda: _not(placeable), timeout_s=HEARTBEAT_S, interval_s=0.02,
                    what="the server out of the registry within one heartbeat")
        raw = await client.get(keys.server(SERVER_ID))
        assert raw is not None and json.loads(raw)["draining"] is True and json.loads(raw)["seats_free"] == 0

        async def play(c: GameClient) -> None:
            """Keep moving and shooting until the match ends: the match is live to its end."""
            sent = 0
            while c.result is None:
                await c.send_input(1.0, 0.0, 0.0, True)
                sent += 1
                with contextlib.suppress(TimeoutError):
                    await c.recv(timeout=0.05)
            assert sent > 10

        await asyncio.wait_for(asyncio.gather(*(play(c) for c in players)), DRAIN_S)
        ended = time.monotonic() - signalled
        for c in players:
            assert c.result is not None and c.result["reason"] == "time", c.result
        assert ended < DRAIN_S, "the match was ended by the drain deadline, not by its time limit"

        code = await asyncio.to_thread(proc.wait, grace_s - (time.monotonic() - signalled))
        exited = time.monotonic() - signalled
        assert code == 0
        assert exited < grace_s and exited < DRAIN_S, f"exited {exited:.1f} s after SIGTERM"
        entries = redisreply.stream_entries(await client.xrange(keys.RESULTS_STREAM))
        results = [MatchResult.parse(e[1][b"result"]) for e in entries if e[1][b"match_id"] == b"drained"]
        assert len(results) == 1 and results[0].reason == "time"
        assert {r.player_id for r in results[0].players} == {"ann", "ben"}
        assert await client.get(keys.server(SERVER_ID)) is None
    finally:
        for c in players:
            await c.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        await client.aclose()
        log.seek(0)
        print(log.read())  # shown by pytest when the test fails
        log.close()


async def _not(predicate: Any) -> bool:
    return not await predicate()
