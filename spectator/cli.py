"""``elysium spectator``: run one spectator relay."""

from __future__ import annotations

import argparse

from elysium import config, logs
from spectator.settings import SpectatorSettings


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sp = sub.add_parser("spectator", help="run one spectator relay (watch live matches and replays)")
    sp.add_argument("--host", help="listen address (ELYSIUM_SPECTATOR_HOST)")
    sp.add_argument("--port", type=int, help="listen port (ELYSIUM_SPECTATOR_PORT)")
    sp.add_argument("--workers", type=int,
                    help="relay processes sharing the port (ELYSIUM_SPECTATOR_WORKERS, default 1)")
    sp.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)  # a socket handed over by --workers
    sp.set_defaults(func=run_spectator)


def run_spectator(args: argparse.Namespace) -> int:
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port), ("workers", args.workers))
                 if v is not None}
    settings = config.load(SpectatorSettings, **overrides)
    logs.setup("spectator", settings.log_level)
    import uvloop

    if settings.workers > 1 and args.listen_fd is None:
        from elysium.workers import supervise

        def child_env(i: int) -> dict[str, str]:  # relay ids name viewer counts: one per worker
            return {"ELYSIUM_SPECTATOR_ID": f"{settings.relay_id}-w{i}"} if settings.relay_id else {}

        return uvloop.run(supervise("spectator", settings.host, settings.port, settings.workers,
                                    env_var="ELYSIUM_SPECTATOR_WORKERS", child_env=child_env, scheme="ws"))
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
