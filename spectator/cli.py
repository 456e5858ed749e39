"""``elysium spectator``: run one spectator relay."""

from __future__ import annotations

import argparse

from elysium import config, logs, workers
from spectator.settings import SpectatorSettings


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sp = sub.add_parser("spectator", help="run a spectator relay (watch live matches and replays)")
    sp.add_argument("--host", help="listen address (ELYSIUM_SPECTATOR_HOST)")
    sp.add_argument("--port", type=int, help="listen port (ELYSIUM_SPECTATOR_PORT)")
    workers.add_arguments(sp, "ELYSIUM_SPECTATOR_WORKERS", "relay processes")
    sp.set_defaults(func=run_spectator)


def run_spectator(args: argparse.Namespace) -> int:
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port), ("workers", args.workers))
                 if v is not None}
    settings = config.load(SpectatorSettings, **overrides)
    logs.setup("spectator", settings.log_level)
    import uvloop

    if settings.workers > 1 and args.listen_fd is None:
        return uvloop.run(workers.supervise("spectator", settings.host, settings.port, settings.workers,
                                            env_var="ELYSIUM_SPECTATOR_WORKERS", id_var="ELYSIUM_SPECTATOR_ID",
                                            base_id=settings.relay_id, scheme="ws"))
    _raise_open_files_limit()
    from spectator.server import serve

    return uvloop.run(serve(settings, listen_fd=args.listen_fd))


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
