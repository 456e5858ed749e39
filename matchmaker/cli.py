"""``elysium matchmaker``."""

from __future__ import annotations

import argparse

from elysium import config, logs, serve
from matchmaker.settings import MatchmakerSettings

SHUTDOWN_TIMEOUT_S = 5.0  # requests in flight (and open event streams) after the stop


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    mm = sub.add_parser("matchmaker",
                        help="run the matchmaker (tickets, parties, custom games, ratings, room allocation)")
    serve.add_arguments(mm, "ELYSIUM_MATCHMAKER", workers_help="replica processes", settings=MatchmakerSettings)
    mm.set_defaults(func=run_matchmaker)


def run_matchmaker(args: argparse.Namespace) -> int:
    settings = config.load(MatchmakerSettings, **serve.overrides(args))
    logs.setup("matchmaker", settings.log_level)
    from matchmaker.app import DRAIN_TIMEOUT_S

    return serve.run("matchmaker", lambda: _service(settings), host=settings.host, port=settings.port,
                     drain_timeout_s=SHUTDOWN_TIMEOUT_S + DRAIN_TIMEOUT_S, listen_fd=args.listen_fd, settings=settings,
                     replicas=serve.Workers(settings.workers, "ELYSIUM_MATCHMAKER_WORKERS", "ELYSIUM_MATCHMAKER_ID",
                                            settings.instance_id))


def _service(settings: MatchmakerSettings) -> serve.AppService:
    """On SIGTERM: stop taking tickets (503 draining), finish the pass in flight, close."""
    from matchmaker.app import SERVICES, create_app

    app = create_app(settings)

    def draining() -> None:
        app[SERVICES].draining = True

    return serve.AppService(app, settings.host, settings.port, shutdown_timeout_s=SHUTDOWN_TIMEOUT_S,
                            on_drain=draining, instance_id=settings.resolved_id)


def _stack() -> list[object]:
    from elysium.up import StackService

    return [StackService("matchmaker", 7360, order=20, needs=("redis", "mongo"), path="/v1/queues")]


STACK_SERVICES = _stack()
