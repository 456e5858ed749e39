"""Child processes for the embedded defaults (Redis, MongoDB wire server) and port helpers."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


_PR_SET_PDEATHSIG = 1

# How a Redis that match results pass through persists (docs/operations.md, "Redis
# persistence", lists the same lines for a deployment, and says why everysec; a test keeps
# the two equal). Every write reaches the AOF before Redis answers it, so a restart or a
# crash of Redis loses nothing acknowledged; the fsync follows within a second or two, a
# window the game server covers by confirming each result after it (gameserver/redisio.py).
REDIS_PERSISTENCE: tuple[tuple[str, str], ...] = (
    ("appendonly", "yes"),
    ("appendfsync", "everysec"),
    ("save", ""),
)


class ProcessError(RuntimeError):
    pass


def die_with_parent(parent_pid: int) -> None:
    """A ``preexec_fn``: the child gets SIGTERM when ``parent_pid`` goes away, even when the
    parent is killed without a chance to clean up (Linux; elsewhere only the check below)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:  # the parent died before the line above
        os._exit(1)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ProcessError(f"process exited with status {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise ProcessError(f"nothing listens on {host}:{port} after {timeout_s:g} s")


@dataclass
class Child:
    """A child process in its own process group, stopped with its whole group."""

    name: str
    proc: subprocess.Popen[bytes] | subprocess.Popen[str]
    url: str
    workdir: Path | None = None
    _owns_workdir: bool = field(default=False)

    def stop(self, timeout_s: float = 10.0) -> int | None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        if self._owns_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return self.proc.returncode


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.Popen[bytes]:
    out = open(log, "ab") if log is not None else None  # noqa: SIM115
    try:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out if out is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT if out is not None else subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            preexec_fn=preexec_fn,
        )
    finally:
        if out is not None:
            out.close()


def start_redis(port: int | None = None, host: str = "127.0.0.1", log: Path | None = None,
                data_dir: Path | None = None, preexec_fn: Callable[[], None] | None = None) -> Child:
    """Start ``redis-server``. With ``data_dir`` it persists there (:data:`REDIS_PERSISTENCE`) and
    a restart on the same folder finds every acknowledged write; without, it keeps all in
    memory in a throwaway folder (tests that never restart it). ``preexec_fn`` runs in the
    child before it starts (:func:`die_with_parent`, say)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ProcessError(
            "redis-server is not installed; run scripts/bootstrap.sh as root, or install Redis and "
            "put redis-server on PATH, or set ELYSIUM_REDIS_URL to a running Redis"
        )
    port = port or free_port(host)
    owns = data_dir is None
    workdir = Path(tempfile.mkdtemp(prefix="elysium-redis-")) if data_dir is None else data_dir
    workdir.mkdir(parents=True, exist_ok=True)
    persistence = REDIS_PERSISTENCE if data_dir is not None else (("save", ""), ("appendonly", "no"))
    options = [arg for name, value in persistence for arg in (f"--{name}", value)]
    proc = spawn(
        "redis",
        [binary, "--port", str(port), "--bind", host, *options, "--dir", str(workdir), "--protected-mode", "no"],
        log=log, preexec_fn=preexec_fn,
    )
    child = Child("redis", proc, f"redis://{host}:{port}/0", workdir, _owns_workdir=owns)
    try:
        wait_for_port(host, port, 10.0, proc)
    except ProcessError:
        child.stop()
        raise
    return child


def start_mongo(port: int | None = None, host: str = "127.0.0.1", storage: Path | None = None,
                log: Path | None = None, preexec_fn: Callable[[], None] | None = None) -> Child:
    """Start the embedded MongoDB wire-protocol server (SecantusDB) as a separate process."""
    binary = shutil.which("secantusd-py") or str(Path(sys.executable).with_name("secantusd-py"))
    if not Path(binary).exists():
        raise ProcessError(
            "the embedded MongoDB server (secantusd-py) is not installed; install the 'embedded' "
            "extra (pip install -e '.[embedded]') or set ELYSIUM_MONGO_URL to a MongoDB replica set"
        )
    port = port or free_port(host)
    owns = storage is None
    workdir = storage or Path(tempfile.mkdtemp(prefix="elysium-mongo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    proc = spawn("mongo", [binary, "--host", host, "--port", str(port), "--storage-path", str(workdir),
                           "--log-level", "WARNING"], log=log, preexec_fn=preexec_fn)
    child = Child("mongo", proc, f"mongodb://{host}:{port}/?retryWrites=false&directConnection=true",
                  workdir, _owns_workdir=owns)
    try:
        wait_for_port(host, port, 30.0, proc)
    except ProcessError:
        child.stop()
        raise
    return child
