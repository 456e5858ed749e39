"""Several replicas of a service behind one port: ``elysium <service> --workers N``.

:func:`elysium.serve.run` runs this supervisor when a service is asked for more than one
worker. It binds N listening sockets to the same address with ``SO_REUSEPORT`` (the
kernel spreads new connections across them) and starts one ``elysium <service>`` child
per socket, handing it the socket (``--listen-fd``). Each child is a full replica of the
service (the matchmaker's matching loop and results consumer, a spectator relay's feed
readers), all against the shared Redis, which is what makes replicas safe together; a
service whose replicas need distinct names gets the worker's index through its id setting.

It starts one child first and the others once that one listens, so settings that fail every
child are reported once, by the first, whose exit status the parent then exits with. A port
another server already listens on is refused even if that server set ``SO_REUSEPORT`` too.
The parent prints the one ``listening`` line once every child listens. On the stop
(``elysium.serve``'s first SIGTERM or SIGINT) it sends each child SIGTERM and exits 0 when
all of them have drained and exited 0; on a second signal it sends SIGTERM again, which
makes the children exit at once. The children run in their own sessions, so a terminal's
Ctrl-C or a signal to the parent's process group reaches them only through the parent,
once. If a child exits on its own, the parent stops the others and exits 1 (a supervisor
restarts the whole service). Children get SIGTERM if the parent dies, so none is left behind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import signal
import socket
import sys
from typing import Any

from elysium import listening
from elysium.listening import Listening
from elysium.procs import die_with_parent

CHILD_START_TIMEOUT_S = 60.0


class WorkersDidNotStart(RuntimeError):
    """A child exited or stayed silent before printing its listening line.

    ``status`` is the exit status of a child that failed (it said why on the stderr it shares
    with the parent), else None.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def bind_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` listening sockets on one address; port 0 picks a free port for all of them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if port:  # SO_REUSEPORT would silently share a port another server listens on with it set too
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]
            sock.listen(1024)
            sock.set_inheritable(True)
    except OSError:
        for sock in socks:
            sock.close()
        raise
    return socks


def add_arguments(parser: argparse.ArgumentParser, env_var: str, what: str) -> None:
    """``--workers N`` (the setting ``env_var``) and the hidden ``--listen-fd`` a child gets."""
    parser.add_argument("--workers", type=int, help=f"{what} sharing the port ({env_var}, default 1)")
    parser.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)  # a socket handed over by the parent


async def supervise(service: str, host: str, port: int, workers: int, *, env_var: str, id_var: str,
                    base_id: str, stop: asyncio.Event, hurry: asyncio.Event, stop_timeout_s: float,
                    scheme: str = "http") -> int:
    """Run ``workers`` children of ``elysium <service>`` on one port until ``stop`` is set.

    ``env_var`` is the service's workers setting (set to 1 for the children). Replicas name
    themselves in Redis (consumer names, viewer counts): when the service's id setting
    ``id_var`` is set (``base_id``), worker ``i`` gets ``{base_id}-w{i}``; otherwise each
    child's default id (host name and pid) is already its own. Once stopped, each child has
    ``stop_timeout_s`` to exit before it is killed; ``hurry`` set meanwhile passes it a second
    SIGTERM. Returns 0 after a clean stop, else 1; raises :class:`WorkersDidNotStart`.
    """
    socks = bind_sockets(host, port, workers)
    port = socks[0].getsockname()[1]
    parent = os.getpid()
    children: list[asyncio.subprocess.Process] = []
    loop = asyncio.get_running_loop()
    pumps: list[asyncio.Task[None]] = []

    async def spawn(i: int, sock: socket.socket) -> asyncio.subprocess.Process:
        env = {**os.environ, env_var: "1", **({id_var: f"{base_id}-w{i}"} if base_id else {})}
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "elysium", service, "--host", host, "--port", str(port),
            "--listen-fd", str(sock.fileno()), pass_fds=(sock.fileno(),), env=env,
            stdout=asyncio.subprocess.PIPE, start_new_session=True,
            preexec_fn=functools.partial(die_with_parent, parent))
        sock.close()  # the child holds it now
        children.append(child)
        return child

    try:
        # One worker first: settings that fail it would fail every worker, and it says why once.
        started = await _wait_listening([await spawn(0, socks[0])], stop)
        if started and len(socks) > 1:
            started = await _wait_listening([await spawn(i, sock) for i, sock in enumerate(socks) if i], stop)
        if started:
            served = Listening(f"{scheme}://{host}:{port}", port, base_id or None)
            print(json.dumps(listening.line(service, host, served, [c.pid for c in children])), flush=True)
            pumps = [loop.create_task(_pump(c)) for c in children]
            exited = [loop.create_task(c.wait()) for c in children]
            stopper = loop.create_task(stop.wait())
            await asyncio.wait([stopper, *exited], return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
        elif not stop.is_set():
            await _not_started(children)
        clean = stop.is_set()
    finally:
        for sock in socks:
            sock.close()
        codes = await _stop_all(children, hurry, stop_timeout_s)
        for task in pumps:
            task.cancel()
    return 0 if clean and all(code == 0 for code in codes) else 1


async def _not_started(children: list[asyncio.subprocess.Process]) -> None:
    """Raise :class:`WorkersDidNotStart` for a child that exited, else for a silent one."""
    waits = [asyncio.ensure_future(child.wait()) for child in children]
    await asyncio.wait(waits, timeout=5.0, return_when=asyncio.FIRST_COMPLETED)  # one whose stdout ended exits
    for waiting in waits:
        waiting.cancel()
    for i, child in enumerate(children):
        if child.returncode is not None:
            code = child.returncode
            raise WorkersDidNotStart(f"worker {i} exited with status {code} before listening",
                                     code if code > 0 else None)
    raise WorkersDidNotStart(f"a worker did not listen within {CHILD_START_TIMEOUT_S:g} s")


async def _wait_listening(children: list[asyncio.subprocess.Process], stop: asyncio.Event) -> bool:
    """True once every child printed its listening line; False if one failed or a stop came first."""
    async def first_line(child: asyncio.subprocess.Process) -> bool:
        assert child.stdout is not None
        line = await child.stdout.readline()
        try:
            return bool(json.loads(line).get("event") == "listening")
        except ValueError:
            return False

    waiting: asyncio.Future[Any] = asyncio.ensure_future(asyncio.gather(*(first_line(c) for c in children)))
    stopper: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait([waiting, stopper], timeout=CHILD_START_TIMEOUT_S,
                                 return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if waiting not in done:
        waiting.cancel()
        return False
    return all(waiting.result())


async def _pump(child: asyncio.subprocess.Process) -> None:
    """Pass anything else a child prints to our stdout (keeps its pipe from filling)."""
    assert child.stdout is not None
    while line := await child.stdout.readline():
        sys.stdout.buffer.write(line)
        sys.stdout.flush()


def _terminate(children: list[asyncio.subprocess.Process]) -> None:
    for child in children:
        if child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)


async def _stop_all(children: list[asyncio.subprocess.Process], hurry: asyncio.Event,
                    timeout_s: float) -> list[int]:
    """SIGTERM to every child; again if ``hurry`` is set before they exit; SIGKILL at the timeout."""
    _terminate(children)
    exited: asyncio.Future[Any] = asyncio.ensure_future(asyncio.gather(*(c.wait() for c in children)))
    hurried: asyncio.Future[Any] = asyncio.ensure_future(hurry.wait())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not exited.done() and loop.time() < deadline:
        await asyncio.wait([exited, hurried], timeout=deadline - loop.time(), return_when=asyncio.FIRST_COMPLETED)
        if hurried.done() and not exited.done():
            _terminate(children)  # a second SIGTERM: they exit without draining
            await asyncio.wait([exited], timeout=max(0.0, deadline - loop.time()))
    hurried.cancel()
    if not exited.done():
        for child in children:
            if child.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.kill()
    return list(await exited)
