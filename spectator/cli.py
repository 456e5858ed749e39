"""``elysium spectator``: run one spectator relay."""

from __future__ import annotations

import argparse

from elysium import config, logs, serve
from spectator.settings import SpectatorSettings


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sp = sub.add_parser("spectator", help="run a spectator relay (watch live matches and replays)")
    serve.add_arguments(sp, "ELYSIUM_SPECTATOR", workers_help="relay processes", settings=SpectatorSettings)
    sp.set_defaults(func=run_spectator)


def run_spectator(args: argparse.Namespace) -> int:
    settings = config.load(SpectatorSettings, **serve.overrides(args))
    logs.setup("spectator", settings.log_level)
    return serve.run("spectator", lambda: _relay(settings), host=settings.host, port=settings.port,
                     drain_timeout_s=settings.drain_s, listen_fd=args.listen_fd, settings=settings,
                     replicas=serve.Workers(settings.workers, "ELYSIUM_SPECTATOR_WORKERS", "ELYSIUM_SPECTATOR_ID",
                                            settings.relay_id, scheme="ws"))


def _relay(settings: SpectatorSettings) -> serve.Service:
    from spectator.server import RelayProcess

    _raise_open_files_limit()
    return RelayProcess(settings)


def _raise_open_files_limit() -> None:
    """Every watcher is a socket: take the hard limit on open files."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


def _watch_lines(ctx: object) -> list[str]:
    port = ctx.ports["spectator"]  # type: ignore[attr-defined]
    return [f"watch        ws://127.0.0.1:{port}/v1/watch/_latest  (the newest live match, e.g. the bots' demo; "
            f"list: http://127.0.0.1:{port}/v1/matches)"]


def _stack() -> list[object]:
    from elysium.up import StackService

    return [StackService("spectator", 7370, order=20, needs=("redis",), after_start=_watch_lines,
                         path="/v1/matches")]


STACK_SERVICES = _stack()
