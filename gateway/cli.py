"""``elysium gateway``: one origin for the web client; and how ``elysium up`` starts it (last)."""

from __future__ import annotations

import argparse
import contextlib
import logging
from typing import TYPE_CHECKING

from elysium import config, logs, serve

if TYPE_CHECKING:
    from gateway.settings import GatewaySettings

log = logging.getLogger("gateway")


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from gateway.settings import GatewaySettings

    gw = sub.add_parser("gateway", help="run the gateway: the web client, the services' APIs under /api and "
                                        "GraphQL at /graphql, on one origin")
    serve.add_arguments(gw, "ELYSIUM_GATEWAY", settings=GatewaySettings)
    gw.set_defaults(func=run_gateway)


def run_gateway(args: argparse.Namespace) -> int:
    from gateway.settings import GatewaySettings

    settings = config.load(GatewaySettings, **serve.overrides(args))
    logs.setup("gateway", settings.log_level)
    return serve.run("gateway", lambda: _service(settings), host=settings.host, port=settings.port,
                     drain_timeout_s=settings.drain_timeout_s, settings=settings)


def _service(settings: GatewaySettings) -> serve.AppService:
    """On SIGTERM: not ready at once; requests and streams in flight may run for the drain."""
    from gateway.app import create_app
    from gateway.appkeys import GATEWAY

    app = create_app(settings)

    def draining() -> None:
        app[GATEWAY].draining = True
        log.info("draining")

    reserve_s = min(1.0, settings.drain_timeout_s / 4)
    return serve.AppService(app, settings.host, settings.port,
                            shutdown_timeout_s=(settings.drain_timeout_s - reserve_s) / 2, on_drain=draining)


def _say(line: str) -> None:
    with contextlib.suppress(OSError, ValueError):  # the terminal may be gone
        print(line, flush=True)


def _stack() -> list[object]:
    from elysium.up import StackContext, StackService

    def env(ctx: StackContext) -> dict[str, str]:
        """The stack's services (the caller's own URLs win); the web client is built meanwhile if its sources
        changed."""
        from gateway import webbuild

        out = {variable: url for variable, name in (
            ("ELYSIUM_COMMERCE_URL", "commerce"), ("ELYSIUM_MATCHMAKER_URL", "matchmaker"),
            ("ELYSIUM_SPECTATOR_URL", "spectator"), ("ELYSIUM_BUTLER_URL", "butler"))
            if (url := ctx.env.get(variable) or ctx.urls.get(name))}
        if not ctx.env.get("ELYSIUM_GATEWAY_WEB_DIR"):  # the gateway serves the new build once it is written
            webbuild.build_in_background(webbuild.REPOSITORY_WEB, say=_say)
        return out

    def web_line(ctx: StackContext) -> list[str]:
        return [f"web          {ctx.urls['gateway']}/"]

    return [StackService("gateway", 7400, order=90, needs=(), env=env, path="/api/gateway/v1/status",
                         after_start=web_line, drain_env="ELYSIUM_GATEWAY_DRAIN_TIMEOUT_S", stack_drain_s=5.0,
                         drain_note="streams in flight finish")]


STACK_SERVICES = _stack()
