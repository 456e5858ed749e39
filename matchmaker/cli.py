"""``elysium matchmaker``."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket

from elysium import config, logs, workers
from matchmaker.settings import MatchmakerSettings


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    mm = sub.add_parser("matchmaker", help="run the matchmaker (tickets, parties, ratings, room allocation)")
    mm.add_argument("--host", help="listen address (ELYSIUM_MATCHMAKER_HOST)")
    mm.add_argument("--port", type=int, help="listen port (ELYSIUM_MATCHMAKER_PORT)")
    workers.add_arguments(mm, "ELYSIUM_MATCHMAKER_WORKERS", "replica processes")
    mm.set_defaults(func=run_matchmaker)


def run_matchmaker(args: argparse.Namespace) -> int:
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port), ("workers", args.workers))
                 if v is not None}
    settings = config.load(MatchmakerSettings, **overrides)
    logs.setup("matchmaker", settings.log_level)
    import uvloop

    if settings.workers > 1 and args.listen_fd is None:
        return uvloop.run(workers.supervise("matchmaker", settings.host, settings.port, settings.workers,
                                            env_var="ELYSIUM_MATCHMAKER_WORKERS", id_var="ELYSIUM_MATCHMAKER_ID",
                                            base_id=settings.instance_id))
    return uvloop.run(serve(settings, listen_fd=args.listen_fd))


async def serve(settings: MatchmakerSettings, listen_fd: int | None = None) -> int:
    """Run until SIGTERM or SIGINT; then stop taking tickets, finish the pass in flight and exit 0."""
    from aiohttp import web

    from matchmaker.app import SERVICES, create_app

    app = create_app(settings)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=5.0)
    await runner.setup()
    site: web.BaseSite
    if listen_fd is not None:  # one of several workers: the parent bound the socket
        sock = socket.socket(fileno=listen_fd)
        sock.setblocking(False)
        site = web.SockSite(runner, sock)
    else:
        site = web.TCPSite(runner, settings.host, settings.port, reuse_address=True)
    await site.start()
    port = runner.addresses[0][1] if runner.addresses else settings.port
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(json.dumps({"event": "listening", "service": "matchmaker", "url": f"http://{settings.host}:{port}",
                      "port": port}), flush=True)
    await stop.wait()
    app[SERVICES].draining = True
    await runner.cleanup()
    return 0


def _stack() -> list[object]:
    from elysium.up import StackService

    return [StackService("matchmaker", 7360, order=20, needs=("redis", "mongo"), path="/v1/queues")]


STACK_SERVICES = _stack()
