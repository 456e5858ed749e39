"""When ``elysium up`` installs and builds the web client: the staleness rule on temporary folders
(a recorded stand-in for npm), what it says when npm is missing or fails, and one real build."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from gateway import webbuild
from gateway.webbuild import STAMP, plan

REAL_WEB = Path(__file__).parents[2] / "web"


def touch(path: Path, at: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text("x")
    os.utime(path, (at, at))


@pytest.fixture
def web(tmp_path: Path) -> Path:
    """A client folder installed at t0+10 and built at t0+20, every source older than both."""
    root = tmp_path / "web"
    t0 = time.time() - 1000
    for name in ("package.json", "package-lock.json", "index.html", "vite.config.ts", "tsconfig.json",
                 "src/main.tsx", "src/pages/market/index.tsx", "sdk/src/index.ts", "sdk/package.json"):
        touch(root / name, t0)
    touch(root / "node_modules" / ".package-lock.json", t0 + 10)
    touch(root / STAMP, t0 + 20)
    return root


class Npm:
    """Records what would have run; each step succeeds unless told otherwise."""

    def __init__(self, fail: str = "") -> None:
        self.ran: list[list[str]] = []
        self.fail = fail

    def __call__(self, argv: list[str], cwd: Path, timeout_s: float) -> subprocess.CompletedProcess[str]:
        self.ran.append(argv[1:])
        if argv[1] == "ci":  # as npm does: node_modules and its record of the install are new
            touch(cwd / "node_modules" / ".package-lock.json", time.time())
        failed = bool(self.fail) and argv[1] == self.fail
        return subprocess.CompletedProcess(argv, 1 if failed else 0, "", "src/x.ts(3,1): error TS2304: no name\n"
                                           if failed else "")


def test_nothing_to_do_when_the_build_is_newer_than_every_source(web: Path) -> None:
    assert plan(web) == webbuild.Plan(install=False, build=False, why="")
    npm, said = Npm(), list[str]()
    assert webbuild.ensure_built(web, say=said.append, run=npm, npm="npm")
    assert npm.ran == [] and said == ["web client: up to date"]


@pytest.mark.parametrize("source", ["src/pages/market/index.tsx", "sdk/src/index.ts", "index.html", "vite.config.ts",
                                    "package.json", "tsconfig.json", "src/new-file.ts", "public/favicon.svg"])
def test_a_source_newer_than_the_build_rebuilds(web: Path, source: str) -> None:
    touch(web / source, time.time())
    todo = plan(web)
    assert todo.build and not todo.install and source in todo.why


def test_files_that_are_not_sources_do_not_rebuild(web: Path) -> None:
    for other in ("test/market.test.tsx", "README.md", "dist/assets/x.js", "node_modules/react/index.js"):
        touch(web / other, time.time())
    assert not plan(web).build


def test_no_stamp_means_no_build_yet(web: Path) -> None:
    (web / STAMP).unlink()
    assert plan(web) == webbuild.Plan(install=False, build=True, why="no build yet")


def test_a_lock_file_newer_than_node_modules_installs_then_builds(web: Path) -> None:
    touch(web / "package-lock.json", time.time())
    assert plan(web).install and plan(web).build
    npm, said = Npm(), list[str]()
    assert webbuild.ensure_built(web, say=said.append, run=npm, npm="npm")
    assert npm.ran == [["ci", "--no-audit", "--no-fund"], ["run", "build"]]
    assert said == ["web client: installing its packages (npm ci)",
                    "web client: building it (npm run build; package-lock.json changed)",
                    "web client: built in 0 s (the gateway serves it now)"]
    assert plan(web) == webbuild.Plan(False, False, "")  # the stamp now says it is current


def test_a_lock_file_touched_but_not_changed_installs_nothing(web: Path) -> None:
    packages: dict[str, dict[str, object]] = {
        "": {"name": "web"}, "sdk": {"name": "@elysium/sdk"},
        "node_modules/react": {"version": "19.3.1"}, "node_modules/vite": {"version": "8.0.0", "dev": True},
        "node_modules/@rollup/rollup-darwin-arm64": {"version": "4.1.0", "optional": True}}
    lock = {"name": "web", "lockfileVersion": 3, "packages": packages}
    installed = {"name": "web", "lockfileVersion": 3, "packages": {
        "node_modules/react": {"version": "19.3.1"}, "node_modules/vite": {"version": "8.0.0", "dev": True}}}
    (web / "package-lock.json").write_text(json.dumps(lock))
    (web / "node_modules" / ".package-lock.json").write_text(json.dumps(installed))
    touch(web / "node_modules" / ".package-lock.json", time.time() - 100)
    touch(web / "package-lock.json", time.time())  # newer, but it locks what is installed
    assert not plan(web).install
    packages["node_modules/react"] = {"version": "19.4.0"}  # a version changed
    (web / "package-lock.json").write_text(json.dumps(lock))
    assert plan(web).install
    packages["node_modules/react"] = {"version": "19.3.1"}
    packages["node_modules/redux"] = {"version": "5.0.1"}  # a package added
    (web / "package-lock.json").write_text(json.dumps(lock))
    assert plan(web).install
    del packages["node_modules/redux"], packages["node_modules/vite"]  # one removed
    (web / "package-lock.json").write_text(json.dumps(lock))
    assert plan(web).install


def test_missing_node_modules_installs(web: Path) -> None:
    shutil.rmtree(web / "node_modules")
    assert plan(web).install


def test_a_failing_build_is_one_line_and_leaves_the_stamp_stale(web: Path) -> None:
    touch(web / "src/main.tsx", time.time())
    npm, said = Npm(fail="run"), list[str]()
    assert not webbuild.ensure_built(web, say=said.append, run=npm, npm="npm")
    assert said[-1].startswith("web client: run build failed (status 1): src/x.ts(3,1): error TS2304: no name;")
    assert plan(web).build  # tried again next time


def test_npm_missing_is_one_line(web: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    touch(web / "src/main.tsx", time.time())
    monkeypatch.setattr(shutil, "which", lambda name: None)
    said: list[str] = []
    assert not webbuild.ensure_built(web, say=said.append, run=Npm())
    assert said == ["web client: not built (npm is not installed; install Node.js 20 or later, then run elysium up "
                    "again)"]


def test_a_source_saved_during_the_build_is_seen_next_time(web: Path) -> None:
    touch(web / "src/main.tsx", time.time())

    def slow_build(argv: list[str], cwd: Path, timeout_s: float) -> subprocess.CompletedProcess[str]:
        touch(web / "src/late.tsx", time.time() + 1)  # saved while the build ran
        return subprocess.CompletedProcess(argv, 0, "", "")

    assert webbuild.ensure_built(web, say=lambda _: None, run=slow_build, npm="npm")
    assert plan(web).build


@pytest.mark.skipif(shutil.which("npm") is None or not (REAL_WEB / "node_modules" / "vite").is_dir(),
                    reason="needs npm and the web client's packages")
def test_one_real_build(tmp_path: Path) -> None:
    """A small client built by the real npm and Vite (the web client's own packages, linked in).

    The link makes the real node_modules this client's: only ``npm run build`` may run here, never
    ``npm ci``, which would empty it; the run refuses anything else before npm starts."""
    web = tmp_path / "web"
    (web / "src").mkdir(parents=True)
    (web / "package.json").write_text('{"name": "tiny", "private": true, "type": "module", '
                                      '"scripts": {"build": "vite build --logLevel error"}}')
    (web / "package-lock.json").write_text('{"name": "tiny", "lockfileVersion": 3, "packages": {}}')
    (web / "index.html").write_text('<!doctype html><html><body><main id="main"><h1>tiny</h1></main>'
                                    '<script type="module" src="/src/main.ts"></script></body></html>')
    (web / "src" / "main.ts").write_text('document.title = "built";\n')
    (web / "node_modules").symlink_to(REAL_WEB / "node_modules")
    installed = webbuild.installed_at(web)
    assert installed is not None
    os.utime(web / "package-lock.json", (installed - 60, installed - 60))  # locked before the install: no npm ci
    for source in (web / "package.json", web / "index.html", web / "src" / "main.ts"):
        os.utime(source, (installed - 60, installed - 60))
    assert plan(web) == webbuild.Plan(install=False, build=True, why="no build yet")
    ran: list[list[str]] = []

    def build_only(argv: list[str], cwd: Path, timeout_s: float) -> subprocess.CompletedProcess[str]:
        assert argv[1:] == ["run", "build"], f"{argv[1:]} must not run on the linked node_modules"
        ran.append(argv[1:])
        return webbuild._run(argv, cwd, timeout_s)

    said: list[str] = []
    assert webbuild.ensure_built(web, say=said.append, run=build_only), said
    assert said[0] == "web client: building it (npm run build; no build yet)" and ran == [["run", "build"]]
    assert said[1].startswith("web client: built in ") and len(said) == 2
    assert "<h1>tiny</h1>" in (web / "dist" / "index.html").read_text()
    assert [p.name for p in (web / "dist" / "assets").iterdir() if p.suffix == ".js"]
    said.clear()
    assert webbuild.ensure_built(web, say=said.append, run=build_only)
    assert said == ["web client: up to date"] and ran == [["run", "build"]]


def test_builds_of_one_folder_run_one_at_a_time(web: Path) -> None:
    touch(web / "src/main.tsx", time.time())
    running: list[int] = []
    overlapped: list[bool] = []
    release = threading.Event()

    def slow(argv: list[str], cwd: Path, timeout_s: float) -> subprocess.CompletedProcess[str]:
        running.append(1)
        overlapped.append(len(running) > 1)
        release.wait(5)
        running.pop()
        return subprocess.CompletedProcess(argv, 0, "", "")

    said: list[str] = []
    first = webbuild.build_in_background(web, say=said.append, run=slow)
    second = threading.Thread(target=webbuild.ensure_built, args=(web,),
                              kwargs={"say": said.append, "run": slow, "npm": "npm"})
    deadline = time.monotonic() + 5
    while not running and time.monotonic() < deadline:  # the first build has begun
        time.sleep(0.01)
    second.start()
    release.set()
    first.join(10)
    second.join(10)
    assert overlapped == [False]  # the second waited, then found the build current
    assert said[-1] == "web client: up to date"
