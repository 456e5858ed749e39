"""One way to run a service process: ``elysium <service> [--host H] [--port P] [--workers N]``.

:func:`run` installs uvloop, handles SIGTERM and SIGINT, prints the one ``listening`` line
and turns start-up failures into one line on stderr. A service hands it a factory of a
:class:`Service` (raw-socket servers implement it; an aiohttp application is wrapped in
:class:`AppService`):

- start: the service is made and started (on the socket a ``--workers`` parent bound, or
  binding its own). It fails with one line on stderr and status 1 if the port is taken or
  an error the service names in ``startup_errors`` is raised (an unreachable database,
  say); bad settings are reported by the command with status 2, as before.
- ``{"event": "listening", "service": NAME, ...}`` on stdout, once, when it serves.
- the first SIGTERM or SIGINT: ``drain_and_stop()`` (stop taking work, finish what is in
  flight up to the service's drain timeout, stop), then exit 0. Should the drain overrun
  its timeout by :data:`STOP_GRACE_S`, the process exits 1.
- a second signal: exit at once, without draining, with status 128 + the signal number.

With ``workers`` (``--workers N`` above 1) the process is instead the supervisor of N
replicas of itself on one port (:mod:`elysium.workers`), with the same signals and lines.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from elysium import config, workers
from elysium.httprunner import AppRunner

STOP_GRACE_S = 30.0  # past the drain timeout, before a stuck drain is given up
EXIT_START_FAILED = 1
_BIND_ERRORS = (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES)


class Service(Protocol):
    """A service as one process runs it."""

    async def start(self, sock: socket.socket | None) -> None:
        """Serve on ``sock`` (bound and listening, from a ``--workers`` parent), or bind the configured address."""

    def listening(self) -> dict[str, object]:
        """The fields of the ``listening`` line after ``event`` and ``service`` (``url``, ``port``, ...)."""

    async def drain_and_stop(self) -> None:
        """Stop taking work, finish what is in flight up to the drain timeout, release everything."""


@dataclass(frozen=True)
class Workers:
    """``--workers N``: ``count`` replicas on one port; see :func:`elysium.workers.supervise`."""

    count: int
    env_var: str  # the service's workers setting, set to 1 for the replicas
    id_var: str  # the service's id setting: replica i gets "{base_id}-w{i}" when base_id is set
    base_id: str
    scheme: str = "http"


class AppService:
    """An aiohttp application as a :class:`Service`: an ``AppRunner`` on a TCP or handed-over socket.

    On drain, ``on_drain`` runs first (the service reports itself not ready), then the runner
    closes the listener, lets requests in flight finish for ``shutdown_timeout_s`` and runs
    the application's shutdown and clean-up. aiohttp's own text access log is off: the shared
    HTTP edge (``elysium.http``) writes one structured line per request, and what aiohttp
    refuses before the edge (a malformed request, a head past its limits) is problem+json
    too (:class:`elysium.httprunner.AppRunner`).
    """

    def __init__(self, app: web.Application, host: str, port: int, *, shutdown_timeout_s: float,
                 on_drain: Callable[[], None] | None = None) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._shutdown_timeout_s = shutdown_timeout_s
        self._on_drain = on_drain
        self._runner: web.AppRunner | None = None

    async def start(self, sock: socket.socket | None) -> None:
        runner = AppRunner(self.app, handle_signals=False, shutdown_timeout=self._shutdown_timeout_s,
                               access_log=None)
        await runner.setup()
        self._runner = runner
        site: web.BaseSite
        if sock is not None:
            sock.setblocking(False)
            site = web.SockSite(runner, sock)
        else:
            site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        if runner.addresses:
            self.port = int(runner.addresses[0][1])

    def listening(self) -> dict[str, object]:
        return {"url": f"http://{self.host}:{self.port}", "port": self.port}

    async def drain_and_stop(self) -> None:
        if self._on_drain is not None:
            self._on_drain()
        if self._runner is not None:
            await self._runner.cleanup()


def add_arguments(parser: argparse.ArgumentParser, prefix: str, *, workers_help: str | None = None) -> None:
    """``--host`` and ``--port`` (settings ``{prefix}_HOST``, ``{prefix}_PORT``); with ``workers_help``,
    ``--workers N`` (``{prefix}_WORKERS``) and the hidden ``--listen-fd`` a replica is started with."""
    parser.add_argument("--host", help=f"listen address ({prefix}_HOST)")
    parser.add_argument("--port", type=int, help=f"listen port ({prefix}_PORT)")
    if workers_help is not None:
        workers.add_arguments(parser, f"{prefix}_WORKERS", workers_help)


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line (``--host``, ``--port``, ``--workers``), for ``config.load``."""
    return {name: getattr(args, name) for name in ("host", "port", "workers")
            if getattr(args, name, None) is not None}


def run(name: str, make: Callable[[], Service], *, host: str, port: int, drain_timeout_s: float,
        listen_fd: int | None = None, replicas: Workers | None = None, settings: object | None = None,
        startup_errors: tuple[type[BaseException], ...] = ()) -> int:
    """Run the service ``name`` until a signal stops it; returns the process's exit status.

    ``make`` builds the service inside the event loop. ``settings`` (masked by
    :func:`elysium.config.redacted`) are logged with the listening record.
    """
    import uvloop

    if replicas is not None and replicas.count > 1 and listen_fd is None:
        return uvloop.run(_supervise(name, host, port, replicas, drain_timeout_s))
    return uvloop.run(_serve(name, make, host, port, listen_fd, drain_timeout_s, settings, startup_errors))


class _Signals:
    """The first SIGTERM or SIGINT sets ``stop``; any later one calls ``on_second``."""

    def __init__(self, on_second: Callable[[int], None]) -> None:
        self.stop = asyncio.Event()
        self.first: int | None = None
        self.second: int | None = None
        self._on_second = on_second
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._received, sig)

    def _received(self, signum: int) -> None:
        if self.first is None:
            self.first = signum
            self.stop.set()
            return
        self.second = signum
        self._on_second(signum)


async def _serve(name: str, make: Callable[[], Service], host: str, port: int, listen_fd: int | None,
                 drain_timeout_s: float, settings: object | None,
                 startup_errors: tuple[type[BaseException], ...]) -> int:
    log = logging.getLogger(name)
    signals = _Signals(lambda signum: _exit_now(f"elysium {name}: second {signal.Signals(signum).name}, "
                                                f"exiting without draining", 128 + signum))
    try:
        service = make()
        await service.start(socket.socket(fileno=listen_fd) if listen_fd is not None else None)
    except OSError as exc:
        return _start_failed(name, _os_reason(exc, host, port))
    except startup_errors as exc:
        return _start_failed(name, f"{type(exc).__name__}: {exc}")
    fields = service.listening()
    print(json.dumps({"event": "listening", "service": name, **fields}), flush=True)
    extra = {**fields, "settings": config.redacted(settings)} if settings is not None else fields
    log.info(f"{name} listening", extra=extra)
    await signals.stop.wait()
    assert signals.first is not None
    log.info("stopping", extra={"signal": signal.Signals(signals.first).name, "drain_timeout_s": drain_timeout_s})
    drain = asyncio.ensure_future(service.drain_and_stop())
    done, _ = await asyncio.wait([drain], timeout=drain_timeout_s + STOP_GRACE_S)
    if drain not in done:
        _exit_now(f"elysium {name}: still draining {drain_timeout_s + STOP_GRACE_S:g} s after the stop, "
                  f"exiting", 1)
    drain.result()
    log.info("stopped")
    return 0


async def _supervise(name: str, host: str, port: int, replicas: Workers, drain_timeout_s: float) -> int:
    hurry = asyncio.Event()
    signals = _Signals(lambda _: hurry.set())
    try:
        code = await workers.supervise(name, host, port, replicas.count, env_var=replicas.env_var,
                                       id_var=replicas.id_var, base_id=replicas.base_id, scheme=replicas.scheme,
                                       stop=signals.stop, hurry=hurry,
                                       stop_timeout_s=drain_timeout_s + STOP_GRACE_S)
    except OSError as exc:
        return _start_failed(name, _os_reason(exc, host, port))
    except workers.WorkersDidNotStart as exc:
        return _start_failed(name, str(exc))
    return 128 + signals.second if signals.second is not None else code


def _os_reason(exc: OSError, host: str, port: int) -> str:
    if exc.errno in _BIND_ERRORS:
        return f"cannot listen on {host}:{port}: {os.strerror(exc.errno).lower()}"
    return str(exc)


def _start_failed(name: str, reason: str) -> int:
    print(f"elysium {name}: cannot start: {reason}", file=sys.stderr, flush=True)
    return EXIT_START_FAILED


def _exit_now(line: str, status: int) -> None:
    print(line, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
