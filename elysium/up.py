"""``elysium up``: the whole platform on one machine with its embedded defaults.

Starts Redis and the MongoDB wire server as child processes (unless ``ELYSIUM_REDIS_URL``
or ``ELYSIUM_MONGO_URL`` point elsewhere), makes development keys, starts every service
package that exists (each declares itself with ``STACK_SERVICES`` in its ``cli`` module),
prints where each listens and, on Ctrl-C or SIGTERM, stops them all.
"""

from __future__ import annotations

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


def run_up(state_dir: str, *, bots: int = 4, for_seconds: float = 0.0) -> int:
    state = Path(state_dir).resolve()
    logs_dir = state / "logs"
    logs_dir.mkdir(parents=True, exist_ok=True)
    children: list[procs.Child] = []
    stop_requested = False
    die_with_us = functools.partial(procs.die_with_parent, os.getpid())

    def request_stop(*_: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    services = _collect()
    env = dict(os.environ)
    lines: list[str] = []
    try:
        needs = {n for s in services for n in s.needs}
        if "redis" in needs and not env.get("ELYSIUM_REDIS_URL"):
            redis = procs.start_redis(log=logs_dir / "redis.log", data_dir=state / "redis")
            children.append(redis)
            env["ELYSIUM_REDIS_URL"] = redis.url
            lines.append(f"redis        {redis.url}  (embedded, persisted in {state / 'redis'})")
        if "mongo" in needs and not env.get("ELYSIUM_MONGO_URL"):
            mongo = procs.start_mongo(storage=state / "mongo", log=logs_dir / "mongo.log")
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
        for svc in services:
            port = _pick_port(svc.port)
            ctx.ports[svc.name] = port
            ctx.urls[svc.name] = f"http://127.0.0.1:{port}"
            env[f"ELYSIUM_{svc.name.upper()}_URL"] = ctx.urls[svc.name]
        for svc in services:
            child_env = dict(env)
            if svc.env is not None:
                child_env.update(svc.env(ctx))
            port = ctx.ports[svc.name]
            proc = subprocess.Popen(
                [sys.executable, "-m", "elysium", svc.name, "--host", "127.0.0.1", "--port", str(port)],
                stdin=subprocess.DEVNULL, stdout=open(logs_dir / f"{svc.name}.log", "ab"),  # noqa: SIM115
                stderr=subprocess.STDOUT, env=child_env, start_new_session=True, preexec_fn=die_with_us,
            )
            child = procs.Child(svc.name, proc, ctx.urls[svc.name])
            children.append(child)
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
            children.append(procs.Child("bots", proc, url))
            lines.append(f"bots         {bots} bots playing arena matches on {url}")
        print("Elysium is up.")
        for line in lines:
            print("  " + line)
        print(f"  logs: {logs_dir}")
        print("Press Ctrl-C to stop.", flush=True)
        print(json.dumps({"event": "up", "services": ctx.urls}), flush=True)
        deadline = time.monotonic() + for_seconds if for_seconds > 0 else None
        while not stop_requested:
            if deadline is not None and time.monotonic() >= deadline:
                break
            for child in children:
                if child.proc.poll() is not None:
                    print(f"{child.name} exited with status {child.proc.returncode}; stopping", file=sys.stderr)
                    stop_requested = True
            time.sleep(0.2)
        return 0
    except procs.ProcessError as exc:
        print(f"elysium up: {exc}", file=sys.stderr)
        return 1
    finally:
        for child in reversed(children):
            child.stop()
        print("Elysium stopped.", flush=True)
