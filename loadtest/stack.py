"""Start the local stack (``elysium up``) for a run that was given no address, and stop it.

The stack runs as a child process in its own session; its one JSON line
``{"event": "up", "services": {...}}`` on stdout says where each service listens.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from loadtest.errors import TargetError
from loadtest.serverstats import find_descendant

START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


@contextlib.contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """Hold a Ctrl-C that arrives inside the block until its end (main thread only)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is None:
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


class LocalStack:
    def __init__(self, state_dir: str | None = None, env: dict[str, str] | None = None) -> None:
        self.owns_dir = state_dir is None
        self.state_dir = Path(state_dir or tempfile.mkdtemp(prefix="elysium-loadtest-"))
        self.extra_env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.services: dict[str, str] = {}
        self.server_id = "local-1"
        self._log: IO[bytes] | None = None

    @property
    def play_url(self) -> str:
        http = self.services["gameserver"]
        return "ws" + http[len("http"):] + "/v1/play"

    @property
    def join_key_file(self) -> str:
        return str(self.state_dir / "keys" / "join.key")

    def start(self, timeout_s: float = START_TIMEOUT_S) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.extra_env)
        env.pop("ELYSIUM_SERVER_ID", None)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.state_dir / "up.err", "ab")  # noqa: SIM115
        with _ctrl_c_deferred():  # a Ctrl-C inside Popen would leave the stack running with no handle on it
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "elysium", "up", "--bots", "0", "--state-dir", str(self.state_dir)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log, env=env, start_new_session=True,
            )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not sel.select(timeout=min(1.0, max(0.0, deadline - time.monotonic()))):
                    if self.proc.poll() is not None:
                        break
                    continue
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.startswith(b"{"):
                        try:
                            event = json.loads(line)
                        except ValueError:
                            continue
                        if event.get("event") == "up":
                            self.services = dict(event.get("services") or {})
                            if "gameserver" not in self.services:
                                self.stop()
                                raise TargetError("the local stack started without a game server")
                            return self.services
        detail = (self.state_dir / "up.err").read_text(errors="replace")[-1500:]
        self.stop()
        raise TargetError(f"the local stack did not come up within {timeout_s:g} s\n{detail}")

    def problem(self) -> str | None:
        """Why the started stack is no longer running (None while it runs): the service that exited
        and the last line of its log, so a run whose stack died says so instead of only counting errors."""
        if self.proc is None or self.proc.poll() is None:
            return None
        text = f"the local stack stopped during the run (exit status {self.proc.returncode})"
        try:
            err = (self.state_dir / "up.err").read_text(errors="replace").splitlines()
        except OSError:
            err = []
        exited = next((line for line in err if " exited with status " in line), None)
        if exited is None:
            return text
        text = f"the local stack stopped during the run: {exited.split(';')[0]}"
        try:
            log = (self.state_dir / "logs" / f"{exited.split()[0]}.log").read_text(errors="replace").splitlines()
        except OSError:
            log = []
        last = next((line for line in reversed(log) if line.strip()), None)
        return f"{text} ({last.strip()[:300]})" if last else text

    def gameserver_pid(self) -> int | None:
        return find_descendant(self.proc.pid, "gameserver") if self.proc is not None else None

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            except ProcessLookupError:
                pass
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.owns_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)
