"""``elysium gameserver`` and ``elysium bots``."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import uuid
from urllib.parse import urlsplit

from elysium import config, devtokens, logs, serve, tokens
from elysium.up import GAMESERVER_DRAIN_S, StackContext, StackService
from gameserver.settings import GameServerSettings


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    gs = sub.add_parser("gameserver", help="run one game server")
    serve.add_arguments(gs, "ELYSIUM_GAMESERVER", settings=GameServerSettings)
    gs.set_defaults(func=run_gameserver)

    bots = sub.add_parser("bots", help="run demo bots that keep playing matches on a game server")
    bots.add_argument("--url", required=True, help="game server websocket URL, e.g. ws://127.0.0.1:7350/v1/play")
    bots.add_argument("--server-id", required=True, help="the server's registry id (join tokens are bound to it)")
    bots.add_argument("--count", type=int, default=4, help="bots in each match (1 to 100)")
    bots.add_argument("--match-prefix", default="demo", help="match ids are PREFIX-RUN-ROUND")
    bots.add_argument("--key-file", help="Ed25519 private key that signs join tokens (default: "
                      "ELYSIUM_JOIN_PRIVATE_KEY_FILE, else the key elysium up made in .elysium/keys/join.key)")
    bots.add_argument("--time-limit-s", type=float, default=90.0, help="length of each match in seconds")
    bots.add_argument("--max-failures", type=int, default=10,
                      help="failed attempts to join in a row before giving up with status 1 (0: never give up)")
    bots.set_defaults(func=run_bots)


def run_gameserver(args: argparse.Namespace) -> int:
    settings = config.load(GameServerSettings, **serve.overrides(args))
    logs.setup("gameserver", settings.log_level)
    from elysium.modes import ModeLoadError
    from gameserver.server import GameServerProcess

    # A mode that fails to import or declares itself wrongly: one line naming it, status 1.
    return serve.run("gameserver", lambda: GameServerProcess(settings), host=settings.host, port=settings.port,
                     drain_timeout_s=settings.drain_timeout_s, settings=settings, startup_errors=(ModeLoadError,))


def run_bots(args: argparse.Namespace) -> int:
    logs.setup("bots")
    if args.count < 1 or args.count > 100:
        raise SystemExit("elysium bots: --count must be between 1 and 100")
    if args.max_failures < 0:
        raise SystemExit("elysium bots: --max-failures must be 0 or more")
    if urlsplit(args.url).scheme not in ("ws", "wss"):
        print(f"elysium bots: --url must be a ws:// or wss:// URL, got {args.url!r}", file=sys.stderr)
        return 2
    signer = tokens.Signer(devtokens.signing_key(args.key_file, "ELYSIUM_JOIN_PRIVATE_KEY_FILE", "join"),
                           devtokens.DEV_ISSUER)
    run_id = uuid.uuid4().hex[:6]

    def token_for(player: str, round_no: int) -> str:
        room = devtokens.room_claim("arena", seats=args.count, min_players=args.count,
                                    time_limit_s=args.time_limit_s, seed=round_no, score_limit=15)
        return devtokens.mint_join(signer, match_id=f"{args.match_prefix}-{run_id}-{round_no}", player_id=player,
                                   server_id=args.server_id, room=room, name=player)

    def say(line: str) -> None:
        print(f"elysium bots: {line}", file=sys.stderr, flush=True)

    from gameserver.bots import BotsGaveUp
    from gameserver.bots import run_bots as loop_bots

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await loop_bots(args.url, args.count, token_for, stop, max_failures=args.max_failures, on_failure=say)
        except BotsGaveUp as exc:
            say(str(exc))
            return 1
        return 0

    return asyncio.run(main())


def _play_url(ctx: StackContext) -> str:
    return f"ws://127.0.0.1:{ctx.ports['gameserver']}/v1/play"


def _gameserver_env(ctx: StackContext) -> dict[str, str]:
    return {"ELYSIUM_GAMESERVER_PUBLIC_URL": _play_url(ctx)}


def _how_to_play(ctx: StackContext) -> list[str]:
    return [f"play         {_play_url(ctx)}  (join with a token from: elysium token join --match my-match "
            f"--player me --key-file {ctx.env['ELYSIUM_JOIN_PRIVATE_KEY_FILE']})"]


STACK_SERVICES = [StackService("gameserver", 7350, order=10, needs=("redis",), env=_gameserver_env,
                               after_start=_how_to_play, path="/healthz", drain_env="ELYSIUM_DRAIN_TIMEOUT_S",
                               stack_drain_s=GAMESERVER_DRAIN_S,
                               drain_note="matches still running then end with a shutdown result")]
