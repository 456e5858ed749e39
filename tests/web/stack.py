"""The real local stack for the browser tests: ``elysium up`` as a child process and the built client.

``start_stack`` runs ``elysium up`` in a throwaway state folder (two demo bots, free ports) and
reads where everything listens from what it prints. The browser talks to one origin: the gateway
``elysium up`` starts (its ``web`` line); a stack that prints none fails the tests.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
RESULTS = ROOT / "test-results" / "web"
BUILT = ROOT / "test-results" / "dist"  # the client the tests serve
UP_TIMEOUT_S = 180.0
SOURCES = ("src", "sdk/src", "index.html", "vite.config.ts", "package-lock.json", "public")


def _newest(paths: Iterator[Path]) -> float:
    newest = 0.0
    for path in paths:
        with contextlib.suppress(OSError):
            newest = max(newest, path.stat().st_mtime)
    return newest


def _source_files() -> Iterator[Path]:
    for name in SOURCES:
        path = WEB / name
        if path.is_dir():
            yield from (p for p in path.rglob("*") if p.is_file())
        elif path.exists():
            yield path


def client_is_stale(out_dir: Path) -> bool:
    index = out_dir / "index.html"
    return not index.exists() or index.stat().st_mtime < _newest(_source_files())


def build_client(out_dir: Path = BUILT, *, force: bool = False, source: str = "") -> float:
    """Build the client into ``out_dir`` when a source is newer than it (or ``force``); the seconds it took (0: fresh).

    The tests serve their own build (the gateway's ``ELYSIUM_GATEWAY_WEB_DIR``), never touching ``web/dist``.
    Only Vite runs here: the type check is ``test_unit.py``'s, so one half-typed file elsewhere does not stop
    every browser test. ``source="HEAD"`` (or ``ELYSIUM_WEB_TESTS_SOURCE=HEAD``) builds the committed pages
    instead of the working tree's.
    """
    npx = shutil.which("npx")
    if npx is None:
        raise RuntimeError("npx is not on PATH: install node and npm (scripts/bootstrap.sh) to build the web client")
    source = source or os.environ.get("ELYSIUM_WEB_TESTS_SOURCE", "")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(out_dir.parent / ".build.lock", "w") as lock:  # one build at a time from these tests
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and not source and not client_is_stale(out_dir):
            return 0.0
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as snapshot:
            cwd = WEB
            if source:
                tree = subprocess.run(["git", "archive", source, "web"], cwd=ROOT, capture_output=True, check=True)
                subprocess.run(["tar", "-x", "-C", snapshot], input=tree.stdout, check=True)
                cwd = Path(snapshot) / "web"
                (cwd / "node_modules").symlink_to(WEB / "node_modules")
            done = subprocess.run([npx, "vite", "build", "--outDir", str(out_dir), "--emptyOutDir"], cwd=cwd,
                                  capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"the web client did not build:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        (out_dir / "index.html").touch()
        return time.monotonic() - started


@dataclass
class Stack:
    """A running ``elysium up``: where the browser goes, and what each service listens on."""

    proc: subprocess.Popen[str]
    state_dir: Path
    services: dict[str, str]
    web_url: str  # http://127.0.0.1:PORT (no trailing slash)
    output: list[str] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        """The environment a command run against this stack needs (its keys)."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith("ELYSIUM_")}
        keys = self.state_dir / "keys"
        for name in ("join", "player", "service"):
            clean[f"ELYSIUM_{name.upper()}_PRIVATE_KEY_FILE"] = str(keys / f"{name}.key")
            clean[f"ELYSIUM_{name.upper()}_PUBLIC_KEY_FILE"] = str(keys / f"{name}.pub")
        return clean

    def admin_token(self) -> str:
        """What ``elysium commerce admin-token`` prints for this stack's service key."""
        done = subprocess.run([sys.executable, "-m", "elysium", "commerce", "admin-token"], env=self.env(),
                              capture_output=True, text=True, timeout=60, cwd=self.state_dir)
        if done.returncode != 0:
            raise RuntimeError(f"elysium commerce admin-token failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def log(self, service: str) -> str:
        path = self.state_dir / "logs" / f"{service}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


WEB_LINE = re.compile(r"^\s*web\s+(http://\S+?)/?\s*$")


def start_stack(state_dir: Path, *, bots: int = 2, web_dir: Path = BUILT) -> Stack:
    """``elysium up --state-dir STATE --bots N`` until it prints its ``up`` event; fails with what it said."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELYSIUM_")}
    env["ELYSIUM_DRAIN_TIMEOUT_S"] = "2"  # the end of the session need not wait for a long drain
    env["PYTHONUNBUFFERED"] = "1"
    env["ELYSIUM_GATEWAY_WEB_DIR"] = str(web_dir)
    proc = subprocess.Popen([sys.executable, "-m", "elysium", "up", "--state-dir", str(state_dir), "--bots", str(bots)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
                            start_new_session=True)
    assert proc.stdout is not None
    output: list[str] = []
    services: dict[str, str] | None = None
    web_url = ""
    deadline = time.monotonic() + UP_TIMEOUT_S
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        output.append(line)
        if (m := WEB_LINE.match(line)) is not None:
            web_url = m.group(1).rstrip("/")
        if line.startswith('{"event": "up"'):
            services = json.loads(line)["services"]
            break
    if services is None:
        proc.kill()
        proc.wait()
        raise RuntimeError("elysium up did not come up:\n" + "".join(output))

    def drain() -> None:  # keep reading, so a chatty stack never blocks on a full pipe
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)

    threading.Thread(target=drain, daemon=True).start()
    stack = Stack(proc, state_dir, services, web_url or services.get("gateway", ""), output)
    if not stack.web_url:
        stack.stop()
        raise RuntimeError("elysium up printed no web line (is the gateway there?):\n" + "".join(output))
    return stack

