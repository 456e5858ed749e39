"""``elysium up``: the whole platform on one machine with its embedded defaults.

Starts Redis and the MongoDB wire server as child processes (unless ``ELYSIUM_REDIS_URL``
or ``ELYSIUM_MONGO_URL`` point elsewhere), makes development keys, starts every service
package that exists (each declares itself with ``STACK_SERVICES`` in its ``cli`` module),
prints where each listens and, on Ctrl-C, SIGTERM or SIGHUP (the terminal closed), stops
them all:

1. every service gets SIGTERM at once and drains: the game server lets running matches
   play on (the bots too) and ends those still running at its drain deadline with a
   ``shutdown`` result (:data:`GAMESERVER_DRAIN_S` unless ``ELYSIUM_DRAIN_TIMEOUT_S`` is
   set). ``up`` says which services it waits for and for how long at most;
2. then the bots, then MongoDB and Redis (last, so the results reach it).

A second signal stops everything at once. One stack runs per state folder: a lock file
(:data:`LOCK_FILE`) there turns a second ``up`` away with one line naming the first.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from elysium import procs, tokens

SERVER_ID = "local-1"
LOCK_FILE = "up.lock"  # in the state folder: held while a stack runs there, with its pid
GAMESERVER_DRAIN_S = 30.0  # the local game server's drain, unless ELYSIUM_DRAIN_TIMEOUT_S says otherwise
DEFAULT_DRAIN_S = 10.0  # a service that declares no drain
STOP_GRACE_S = 30.0  # past a drain, before a service is killed (elysium.serve gives up at the same)


@dataclass(frozen=True)
class StackService:
    """How ``elysium up`` runs one service: ``elysium NAME --host H --port P``."""

    name: str
    port: int  # preferred; a free one is taken when it is busy
    order: int = 50
    needs: tuple[str, ...] = ("redis",)  # embedded defaults it needs: redis, mongo
    env: Callable[[StackContext], dict[str, str]] | None = None
    after_start: Callable[[StackContext], list[str]] | None = None  # extra lines to print
    path: str = "/"  # what to print after the address
    drain_env: str = ""  # the variable holding its drain timeout in seconds, if it has one
    stack_drain_s: float = DEFAULT_DRAIN_S  # the drain up gives it (sets drain_env so, unless it is set)
    drain_note: str = ""  # what its drain does, for the line printed while waiting for it
    unless_env: str = ""  # not started when this variable is set (an embedded default the caller replaced)


@dataclass
class StackContext:
    state_dir: Path
    env: dict[str, str]
    urls: dict[str, str] = field(default_factory=dict)  # service name -> http://host:port
    ports: dict[str, int] = field(default_factory=dict)


def _pick_port(preferred: int) -> int:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            return procs.free_port()


def _collect() -> list[StackService]:
    from elysium.cli import _service_modules

    found: list[StackService] = []
    for module in _service_modules():
        found.extend(getattr(module, "STACK_SERVICES", []))
    return sorted(found, key=lambda s: s.order)


class StackBusy(RuntimeError):
    """Another ``elysium up`` runs in the same state folder."""


def _lock(state: Path) -> int:
    """Take the state folder's lock for this process (released when it exits, however it exits)."""
    path = state / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise StackBusy(
            f"another stack (pid {other}) is running in {state}; stop it first (Ctrl-C in its terminal, or "
            f"kill {other}), or give this one another folder with --state-dir DIR (or ELYSIUM_STATE_DIR)"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    os.set_inheritable(fd, False)
    return fd


def _say(line: str, *, err: bool = False) -> None:
    """Print, unless the terminal is gone (after SIGHUP a write can fail: stopping must go on)."""
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr if err else sys.stdout, flush=True)


@dataclass
class _Running:
    child: procs.Child
    drain_s: float = DEFAULT_DRAIN_S
    note: str = ""


def _drain_of(svc: StackService, env: dict[str, str]) -> float:
    if not svc.drain_env:
        return svc.stack_drain_s
    try:
        return max(0.0, float(env[svc.drain_env]))
    except (KeyError, ValueError):
        return svc.stack_drain_s


def run_up(state_dir: str, *, bots: int = 4, for_seconds: float = 0.0) -> int:
    state = Path(state_dir).resolve()
    logs_dir = state / "logs"
    try:
        logs_dir.mkdir(parents=True, exist_ok=True)
        lock = _lock(state)
    except (StackBusy, OSError) as exc:
        print(f"elysium up: {exc}", file=sys.stderr)
        return 1
    children: list[procs.Child] = []  # the embedded databases, oldest first
    services: list[_Running] = []
    extras: list[procs.Child] = []  # the bots
    signals = 0
    die_with_us = functools.partial(procs.die_with_parent, os.getpid())

    def request_stop(*_: object) -> None:
        nonlocal signals
        signals += 1
        if signals > 1:
            _stop_now(services, extras)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, request_stop)
    env = dict(os.environ)
    declared = [s for s in _collect() if not (s.unless_env and env.get(s.unless_env))]
    lines: list[str] = []
    try:
        needs = {n for s in declared for n in s.needs}
        if "redis" in needs and not env.get("ELYSIUM_REDIS_URL"):
            redis = procs.start_redis(log=logs_dir / "redis.log", data_dir=state / "redis", preexec_fn=die_with_us)
            children.append(redis)
            env["ELYSIUM_REDIS_URL"] = redis.url
            lines.append(f"redis        {redis.url}  (embedded, persisted in {state / 'redis'})")
        if "mongo" in needs and not env.get("ELYSIUM_MONGO_URL"):
            mongo = procs.start_mongo(storage=state / "mongo", log=logs_dir / "mongo.log", preexec_fn=die_with_us)
            children.append(mongo)
            env["ELYSIUM_MONGO_URL"] = mongo.url
            lines.append(f"mongodb      {mongo.url}  (embedded)")
        keys_dir = state / "keys"
        for name in ("join", "player", "service"):
            priv, pub = tokens.ensure_keypair(keys_dir, name)
            upper = name.upper()
            env.setdefault(f"ELYSIUM_{upper}_PRIVATE_KEY_FILE", str(priv))
            env.setdefault(f"ELYSIUM_{upper}_PUBLIC_KEY_FILE", str(pub))
        env.setdefault("ELYSIUM_SERVER_ID", SERVER_ID)
        ctx = StackContext(state, env)
        for svc in declared:
            port = _pick_port(svc.port)
            ctx.ports[svc.name] = port
            ctx.urls[svc.name] = f"http://127.0.0.1:{port}"
            env[f"ELYSIUM_{svc.name.upper()}_URL"] = ctx.urls[svc.name]
        for svc in declared:
            if signals:
                return 0
            child_env = dict(env)
            if svc.env is not None:
                child_env.update(svc.env(ctx))
            if svc.drain_env:
                child_env.setdefault(svc.drain_env, f"{svc.stack_drain_s:g}")
            port = ctx.ports[svc.name]
            proc = subprocess.Popen(
                [sys.executable, "-m", "elysium", svc.name, "--host", "127.0.0.1", "--port", str(port)],
                stdin=subprocess.DEVNULL, stdout=open(logs_dir / f"{svc.name}.log", "ab"),  # noqa: SIM115
                stderr=subprocess.STDOUT, env=child_env, start_new_session=True, preexec_fn=die_with_us,
            )
            child = procs.Child(svc.name, proc, ctx.urls[svc.name])
            services.append(_Running(child, _drain_of(svc, child_env), svc.drain_note))
            try:
                procs.wait_for_port("127.0.0.1", port, 60.0, proc)
            except procs.ProcessError as exc:
                tail = (logs_dir / f"{svc.name}.log").read_text(errors="replace")[-2000:]
                raise procs.ProcessError(f"{svc.name} did not start: {exc}\n{tail}") from None
            lines.append(f"{svc.name:<12} {ctx.urls[svc.name]}{svc.path}")
            if svc.after_start is not None:
                lines.extend(svc.after_start(ctx))
        if bots and "gameserver" in ctx.ports:
            url = f"ws://127.0.0.1:{ctx.ports['gameserver']}/v1/play"
            proc = subprocess.Popen(
                [sys.executable, "-m", "elysium", "bots", "--url", url, "--server-id", env["ELYSIUM_SERVER_ID"],
                 "--count", str(bots), "--key-file", env["ELYSIUM_JOIN_PRIVATE_KEY_FILE"]],
                stdin=subprocess.DEVNULL, stdout=open(logs_dir / "bots.log", "ab"),  # noqa: SIM115
                stderr=subprocess.STDOUT, env=env, start_new_session=True, preexec_fn=die_with_us,
            )
            extras.append(procs.Child("bots", proc, url))
            lines.append(f"bots         {bots} bots playing arena matches on {url}")
        _say("Elysium is up.")
        for line in lines:
            _say("  " + line)
        _say(f"  logs: {logs_dir}")
        _say("Press Ctrl-C to stop.")
        _say(json.dumps({"event": "up", "services": ctx.urls}))
        deadline = time.monotonic() + for_seconds if for_seconds > 0 else None
        while not signals:
            if deadline is not None and time.monotonic() >= deadline:
                break
            for child in [*children, *(s.child for s in services), *extras]:
                if child.proc.poll() is not None:
                    _say(f"{child.name} exited with status {child.proc.returncode}; stopping", err=True)
                    signals = max(signals, 1)
            time.sleep(0.2)
        return 0
    except procs.ProcessError as exc:
        _say(f"elysium up: {exc}", err=True)
        return 1
    finally:
        _drain_services(services, lambda: signals > 1)
        for child in [*reversed(extras), *reversed(children)]:
            child.stop()
        os.close(lock)
        _say("Elysium stopped.")


def _drain_services(services: list[_Running], hurry: Callable[[], bool]) -> None:
    """SIGTERM every service at once, then wait for each up to its drain and a grace, saying so."""
    running = [s for s in services if s.child.proc.poll() is None]
    if not running:
        return
    for s in running:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(s.child.proc.pid, signal.SIGTERM)
    waits = {s.child.name: s.drain_s + STOP_GRACE_S for s in running}
    longest = max(running, key=lambda s: s.drain_s)
    note = f"; {longest.note}" if longest.note else ""
    _say(f"Stopping: waiting up to {waits[longest.child.name]:g} s for {longest.child.name} to drain "
         f"(its drain timeout is {longest.drain_s:g} s{note}); press Ctrl-C again to stop at once.")
    start = time.monotonic()
    for s in running:
        remaining = waits[s.child.name] - (time.monotonic() - start)
        while s.child.proc.poll() is None and remaining > 0 and not hurry():
            with contextlib.suppress(subprocess.TimeoutExpired):
                s.child.proc.wait(min(0.2, remaining))
            remaining = waits[s.child.name] - (time.monotonic() - start)
        if s.child.proc.poll() is None:
            if not hurry():
                _say(f"{s.child.name} did not stop within {waits[s.child.name]:g} s; killing it", err=True)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(s.child.proc.pid, signal.SIGKILL)
            s.child.proc.wait()


def _stop_now(services: list[_Running], extras: list[procs.Child]) -> None:
    """The second signal: every service and the bots exit at once (the databases stop cleanly after)."""
    for child in [*(s.child for s in services), *extras]:
        if child.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.proc.pid, signal.SIGKILL)
