"""``elysium gameserver`` and ``elysium bots``."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import uuid

from elysium import config, devtokens, logs, serve, tokens
from elysium.up import GAMESERVER_DRAIN_S, StackContext, StackService
from gameserver.settings import GameServerSettings


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    gs = sub.add_parser("gameserver", help="run one game server")
    serve.add_arguments(gs, "ELYSIUM_GAMESERVER")
    gs.set_defaults(func=run_gameserver)

    bots = sub.add_parser("bots", help="run demo bots that keep playing matches on a game server")
    bots.add_argument("--url", required=True, help="game server websocket URL")
    bots.add_argument("--server-id", required=True, help="the server's registry id (join tokens are bound to it)")
    bots.add_argument("--count", type=int, default=4)
    bots.add_argument("--match-prefix", default="demo")
    bots.add_argument("--key-file", default=os.environ.get("ELYSIUM_JOIN_PRIVATE_KEY_FILE", ""),
                      help="Ed25519 private key that signs join tokens (ELYSIUM_JOIN_PRIVATE_KEY_FILE)")
    bots.add_argument("--time-limit-s", type=float, default=90.0)
    bots.set_defaults(func=run_bots)


def run_gameserver(args: argparse.Namespace) -> int:
    settings = config.load(GameServerSettings, **serve.overrides(args))
    logs.setup("gameserver", settings.log_level)
    from gameserver.server import GameServerProcess

    return serve.run("gameserver", lambda: GameServerProcess(settings), host=settings.host, port=settings.port,
                     drain_timeout_s=settings.drain_timeout_s, settings=settings)


def run_bots(args: argparse.Namespace) -> int:
    logs.setup("bots")
    if args.count < 1 or args.count > 100:
        raise SystemExit("elysium bots: --count must be between 1 and 100")
    signer = tokens.Signer(tokens.load_private_key(path=args.key_file or None), devtokens.DEV_ISSUER)
    run_id = uuid.uuid4().hex[:6]

    def token_for(player: str, round_no: int) -> str:
        room = devtokens.room_claim("arena", seats=args.count, min_players=args.count,
                                    time_limit_s=args.time_limit_s, seed=round_no, score_limit=15)
        return devtokens.mint_join(signer, match_id=f"{args.match_prefix}-{run_id}-{round_no}", player_id=player,
                                   server_id=args.server_id, room=room, name=player)

    from gameserver.bots import run_bots as loop_bots

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await loop_bots(args.url, args.count, token_for, stop)
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
