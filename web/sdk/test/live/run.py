"""The SDK against a real game server and spectator relay (run from the repository root):

    python web/sdk/test/live/run.py

Starts Redis, a game server and a relay on free ports with throwaway keys, mints two join
tokens for one arena match, and runs ``web/sdk/test/live.test.ts`` with where they are
(``ELYSIUM_SDK_GAME_URL``, ``ELYSIUM_SDK_JOIN_TOKENS``, ``ELYSIUM_SDK_RELAY_ORIGIN``,
``ELYSIUM_SDK_MATCH``). Without those variables that test is skipped, so the plain
``npx vitest run`` never needs the services. Exits with the test's status.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT))

from elysium import config, devtokens, procs, tokens  # noqa: E402
from gameserver.server import GameServer  # noqa: E402
from gameserver.settings import GameServerSettings  # noqa: E402
from spectator.server import SpectatorServer  # noqa: E402
from spectator.settings import SpectatorSettings  # noqa: E402

SERVER_ID = "sdk-live-gs"
MATCH = "sdk-live-1"


async def main() -> int:
    redis = procs.start_redis()
    keys = Path(tempfile.mkdtemp(prefix="sdk-live-keys-"))
    tokens.generate_keypair(keys, "join")
    game = GameServer(config.load(GameServerSettings, environ={}, host="127.0.0.1", port=0, server_id=SERVER_ID,
                                  redis_url=redis.url, join_public_key_file=str(keys / "join.pub"),
                                  heartbeat_s=0.5, heartbeat_ttl_s=2.0))
    relay = SpectatorServer(config.load(SpectatorSettings, environ={}, host="127.0.0.1", port=0,
                                        relay_id="sdk-live-relay", redis_url=redis.url))
    await game.start()
    await relay.start()
    try:
        signer = tokens.Signer(tokens.load_private_key(path=str(keys / "join.key")), tokens.DEV_ISSUER)
        room = devtokens.room_claim(seats=2, min_players=2, score_limit=3, time_limit_s=60.0, seed=4)
        minted = [devtokens.mint_join(signer, match_id=MATCH, player_id=pid, server_id=SERVER_ID, room=room,
                                      name=name, ttl_s=60.0)
                  for pid, name in (("p-alice", "Alice"), ("p-bob", "Bob"))]
        env = {**os.environ, "ELYSIUM_SDK_GAME_URL": f"ws://127.0.0.1:{game.port}/v1/play",
               "ELYSIUM_SDK_JOIN_TOKENS": ",".join(minted), "ELYSIUM_SDK_RELAY_ORIGIN": f"ws://127.0.0.1:{relay.port}",
               "ELYSIUM_SDK_MATCH": MATCH}
        proc = await asyncio.create_subprocess_exec("npx", "vitest", "run", "sdk/test/live.test.ts", cwd=ROOT / "web",
                                                    env=env)
        return await proc.wait()
    finally:
        await relay.stop()
        await game.stop()
        redis.stop()


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
