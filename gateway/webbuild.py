"""Build the web client when its sources changed (``elysium up`` calls :func:`ensure_built` before the gateway starts).

The rule (:func:`plan`, pure but for reading file times):

* ``npm ci`` when ``web/node_modules`` is missing, or older than ``web/package-lock.json`` and not what
  it locks (npm's record of the install, ``node_modules/.package-lock.json``, names other versions or
  lacks a package that is not optional: a lock file touched but not changed installs nothing);
* ``npm run build`` when the last build left no stamp (``web/dist/.elysium-build``), or when any
  source is newer than it: a file under ``web/src``, ``web/sdk/src`` or ``web/public``, or
  ``web/index.html``, ``web/vite.config.ts``, ``web/tsconfig.json``, ``web/package.json``,
  ``web/package-lock.json``, ``web/sdk/package.json``.

Each step says what it does in one line. npm missing, or a step failing, is one more line naming
what to do; the caller goes on (the gateway then serves the last build, or its "not built" page).

``elysium up`` builds in the background (:func:`build_in_background`), so the stack starts at once
and the gateway serves the new build as soon as it is written. One build runs at a time per client
folder (a lock beside the system's temporary files); npm dies with the process that started it.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from elysium import procs

REPOSITORY_WEB = Path(__file__).resolve().parents[1] / "web"
STAMP = Path("dist") / ".elysium-build"
SOURCE_DIRS = ("src", "sdk/src", "public")
SOURCE_FILES = ("index.html", "vite.config.ts", "tsconfig.json", "package.json", "package-lock.json",
                "sdk/package.json")
INSTALL_TIMEOUT_S = 600.0
BUILD_TIMEOUT_S = 600.0

Run = Callable[[list[str], Path, float], "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class Plan:
    install: bool
    build: bool
    why: str  # what made the build necessary (empty when nothing is to be done)


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _sources(web: Path) -> Iterator[Path]:
    for name in SOURCE_FILES:
        yield web / name
    for folder in SOURCE_DIRS:
        for root, dirs, files in os.walk(web / folder):
            dirs[:] = [d for d in dirs if d != "node_modules" and not d.startswith(".")]
            for file in files:
                yield Path(root) / file


def newest_source(web: Path) -> tuple[Path, float] | None:
    newest: tuple[Path, float] | None = None
    for path in _sources(web):
        mtime = _mtime(path)
        if mtime is not None and (newest is None or mtime > newest[1]):
            newest = (path, mtime)
    return newest


def installed_at(web: Path) -> float | None:
    """When ``node_modules`` was last installed (npm's own record of it, else the folder's time)."""
    modules = web / "node_modules"
    if not modules.is_dir():
        return None
    return _mtime(modules / ".package-lock.json") or _mtime(modules)


def _packages(path: Path) -> dict[str, dict[str, object]] | None:
    try:
        packages = json.loads(path.read_text()).get("packages")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(packages, dict):
        return None
    return {k: v for k, v in packages.items() if k.startswith("node_modules/") and isinstance(v, dict)}


def installed_as_locked(web: Path) -> bool:
    """Whether npm's record of the install holds exactly the versions the lock file names."""
    locked, installed = _packages(web / "package-lock.json"), _packages(web / "node_modules" / ".package-lock.json")
    if locked is None or installed is None:
        return False
    for name, entry in locked.items():
        have = installed.get(name)
        if have is None:
            if not entry.get("optional"):  # another platform's optional build is rightly absent
                return False
        elif have.get("version") != entry.get("version"):
            return False
    return set(installed) <= set(locked)


def plan(web: Path) -> Plan:
    installed, lock = installed_at(web), _mtime(web / "package-lock.json")
    install = installed is None or (lock is not None and lock > installed and not installed_as_locked(web))
    stamp = _mtime(web / STAMP)
    if stamp is None:
        return Plan(install, True, "no build yet")
    newest = newest_source(web)
    if newest is not None and newest[1] > stamp:
        return Plan(install, True, f"{newest[0].relative_to(web)} changed")
    return Plan(install, False, "")


def _run(argv: list[str], cwd: Path, timeout_s: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL,
                          check=False, preexec_fn=functools.partial(procs.die_with_parent, os.getpid()))


@contextlib.contextmanager
def _one_at_a_time(web: Path) -> Iterator[None]:
    """Hold the build lock of ``web`` (waiting for another build of it to finish)."""
    digest = hashlib.sha256(str(web.resolve()).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"elysium-webbuild-{digest}.lock"
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def build_in_background(web: Path, *, say: Callable[[str], None], run: Run = _run) -> threading.Thread:
    """:func:`ensure_built` on a daemon thread (``elysium up`` does not wait for it)."""
    thread = threading.Thread(target=ensure_built, args=(web,), kwargs={"say": say, "run": run},
                              name="web-client-build", daemon=True)
    thread.start()
    return thread


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "no output"


def ensure_built(web: Path, *, say: Callable[[str], None], run: Run = _run, npm: str | None = None) -> bool:
    """Install and build as :func:`plan` says; True when the client is built and current."""
    with _one_at_a_time(web):
        return _ensure_built(web, say=say, run=run, npm=npm)


def _ensure_built(web: Path, *, say: Callable[[str], None], run: Run, npm: str | None) -> bool:
    if not (web / "package.json").is_file():
        say(f"web client: no sources at {web}; the gateway serves what ELYSIUM_GATEWAY_WEB_DIR holds")
        return False
    todo = plan(web)
    if not (todo.install or todo.build):
        say("web client: up to date")
        return True
    npm = npm or shutil.which("npm")
    if npm is None:
        say("web client: not built (npm is not installed; install Node.js 20 or later, then run elysium up again)")
        return False
    steps: list[tuple[list[str], str, float]] = []
    if todo.install:
        steps.append(([npm, "ci", "--no-audit", "--no-fund"], "installing its packages (npm ci)", INSTALL_TIMEOUT_S))
    steps.append(([npm, "run", "build"], f"building it (npm run build; {todo.why or 'packages changed'})",
                  BUILD_TIMEOUT_S))
    started = time.time()  # the stamp's time: a source saved during the build is seen by the next one
    for argv, what, timeout_s in steps:
        say(f"web client: {what}")
        try:
            done = run(argv, web, timeout_s)
        except subprocess.TimeoutExpired:
            say(f"web client: {' '.join(argv[1:])} took over {timeout_s:g} s; gave up (the gateway serves the last "
                f"build, if any)")
            return False
        except OSError as exc:
            say(f"web client: cannot run npm: {exc.strerror or exc}")
            return False
        if done.returncode != 0:
            say(f"web client: {' '.join(argv[1:])} failed (status {done.returncode}): "
                f"{_last_line(done.stderr or done.stdout)}; run it in web/ to see why (the gateway serves the last "
                f"build, if any)")
            return False
    stamp = web / STAMP
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text("built by elysium up\n")
    os.utime(stamp, (started, started))
    say(f"web client: built in {time.time() - started:.0f} s (the gateway serves it now)")
    return True
