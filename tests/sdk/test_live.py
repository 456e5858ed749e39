"""The web SDK against a real game server and spectator relay.

Starts Redis, a game server and a relay on free ports with throwaway keys, mints two join
tokens for one arena match, and runs the SDK's live Vitest file (``web/sdk/test/game.live.test.ts``)
with where they are (``ELYSIUM_SDK_GAME_URL``, ``ELYSIUM_SDK_JOIN_TOKENS``,
``ELYSIUM_SDK_RELAY_ORIGIN``, ``ELYSIUM_SDK_MATCH``; ``ELYSIUM_WEB_LIVE=1`` selects the live files,
which a plain ``npx vitest run`` leaves out): two players join, move with prediction, fight, chat,
are watched and leave.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
from pathlib import Path

import pytest

from elysium import config, devtokens, procs, tokens
from gameserver.server import GameServer
from gameserver.settings import GameServerSettings
from spectator.server import SpectatorServer
from spectator.settings import SpectatorSettings

ROOT = Path(__file__).resolve().parents[2]
SERVER_ID = "sdk-live-gs"
MATCH = "sdk-live-1"
NPX = shutil.which("npx")


async def _run(keys: Path) -> tuple[int, str]:
    """Servers up, the live Vitest file run against them, servers down: its status and output."""
    redis = procs.start_redis()
    tokens.generate_keypair(keys, "join")
    game = GameServer(config.load(GameServerSettings, environ={}, host="127.0.0.1", port=0, server_id=SERVER_ID,
                                  redis_url=redis.url, join_public_key_file=str(keys / "join.pub"),
                                  heartbeat_s=0.5, heartbeat_ttl_s=2.0))
    relay = SpectatorServer(config.load(SpectatorSettings, environ={}, host="127.0.0.1", port=0,
                                        relay_id="sdk-live-relay", redis_url=redis.url))
    try:
        await game.start()
        await relay.start()
        signer = tokens.Signer(tokens.load_private_key(path=str(keys / "join.key")), tokens.DEV_ISSUER)
        room = devtokens.room_claim(seats=2, min_players=2, score_limit=3, time_limit_s=60.0, seed=4)
        minted = [devtokens.mint_join(signer, match_id=MATCH, player_id=pid, server_id=SERVER_ID, room=room,
                                      name=name, ttl_s=60.0)
                  for pid, name in (("p-alice", "Alice"), ("p-bob", "Bob"))]
        env = {**os.environ, "CI": "1", "ELYSIUM_WEB_LIVE": "1",
               "ELYSIUM_SDK_GAME_URL": f"ws://127.0.0.1:{game.port}/v1/play",
               "ELYSIUM_SDK_JOIN_TOKENS": ",".join(minted),
               "ELYSIUM_SDK_RELAY_ORIGIN": f"ws://127.0.0.1:{relay.port}", "ELYSIUM_SDK_MATCH": MATCH}
        proc = await asyncio.create_subprocess_exec(NPX or "npx", "vitest", "run", "sdk/test/game.live.test.ts",
                                                    cwd=ROOT / "web", env=env, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
        return proc.returncode or 0, out.decode(errors="replace")
    finally:
        await relay.stop()
        await game.stop()
        redis.stop()


@pytest.mark.timeout(300)
def test_the_sdk_plays_and_watches_a_real_match(tmp_path: Path) -> None:
    if NPX is None:
        pytest.fail("npx is not on PATH: install node and npm (scripts/bootstrap.sh) to test the web SDK", pytrace=False)
    # Its own thread and event loop: the browser tests' session may hold this thread's loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        status, text = pool.submit(asyncio.run, _run(tmp_path)).result(timeout=280)
    assert status == 0, text[-6000:]
    assert "1 passed" in text, text[-3000:]
