"""``elysium butler``: run the AI concierge sidecar; and how ``elysium up`` starts it."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from elysium import config, logs, serve

if TYPE_CHECKING:
    from butler.settings import ButlerSettings

log = logging.getLogger("butler")


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from butler.settings import ButlerSettings

    bt = sub.add_parser("butler", help="run the butler, the AI concierge (chat that uses commerce and the "
                                       "matchmaker as the player; offline intent engine without OPENAI_API_KEY)")
    serve.add_arguments(bt, "ELYSIUM_BUTLER", settings=ButlerSettings)
    bt.set_defaults(func=run_butler)


def run_butler(args: argparse.Namespace) -> int:
    from pymongo.errors import PyMongoError
    from redis.exceptions import RedisError

    from butler.settings import ButlerSettings

    settings = config.load(ButlerSettings, **serve.overrides(args))
    logs.setup("butler", settings.log_level)
    return serve.run("butler", lambda: _service(settings), host=settings.host, port=settings.port,
                     drain_timeout_s=settings.drain_timeout_s, settings=settings,
                     startup_errors=(PyMongoError, RedisError))


def _service(settings: ButlerSettings) -> serve.AppService:
    """On SIGTERM: new chats answer 503 draining at once; streams in flight finish within the drain.

    aiohttp waits its shutdown timeout twice (for handlers to finish, then for the cancelled
    ones to unwind), so each wait gets half the drain less a reserve for closing the clients.
    """
    from butler.app import create_app
    from butler.appkeys import SERVICES

    app = create_app(settings)

    def draining() -> None:
        app[SERVICES].draining = True
        log.info("draining")

    reserve_s = min(1.0, settings.drain_timeout_s / 4)
    return serve.AppService(app, settings.host, settings.port,
                            shutdown_timeout_s=(settings.drain_timeout_s - reserve_s) / 2, on_drain=draining)


def _stack() -> list[object]:
    from elysium.up import StackContext, StackService

    def env(ctx: StackContext) -> dict[str, str]:
        """The stack's commerce and matchmaker, unless the caller named others."""
        out: dict[str, str] = {}
        for variable, name in (("ELYSIUM_BUTLER_COMMERCE_URL", "commerce"),
                               ("ELYSIUM_BUTLER_MATCHMAKER_URL", "matchmaker")):
            url = ctx.env.get(variable) or ctx.urls.get(name)
            if url:
                out[variable] = url
        return out

    def engine_line(ctx: StackContext) -> list[str]:
        keyed = ctx.env.get("OPENAI_API_KEY") or ctx.env.get("ELYSIUM_BUTLER_OPENAI_API_KEY_FILE")
        return ["             (model engine: " + ctx.env.get("ELYSIUM_BUTLER_MODEL", "the default model") + ")"
                if keyed else "             (offline intent engine; set OPENAI_API_KEY for the model)"]

    return [StackService("butler", 7390, order=30, needs=("mongo", "redis"), env=env, path="/v1/openapi.json",
                         after_start=engine_line, drain_env="ELYSIUM_BUTLER_DRAIN_TIMEOUT_S", stack_drain_s=10.0,
                         drain_note="chats in flight finish streaming")]


STACK_SERVICES = _stack()
