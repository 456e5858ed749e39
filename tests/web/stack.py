"""The real local stack for the browser tests: ``elysium up`` as a child process and the built client.

``start_stack`` runs ``elysium up`` in a throwaway state folder (two demo bots, free ports) and
reads where everything listens from what it prints. The browser talks to one origin: the gateway
``elysium up`` starts (its ``web`` line). A stack without a gateway (an older tree) is fronted by
:class:`StandInGateway`, a small static server and pass-through proxy with the same paths, so
the pages can still be driven.
"""

from __future__ import annotations

import asyncio
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

import aiohttp
from aiohttp import web

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
    stand_in: StandInGateway | None = None

    @property
    def has_gateway(self) -> bool:
        return self.stand_in is None

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
        if self.stand_in is not None:
            self.stand_in.stop()
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
        stack.stand_in = StandInGateway(services, web_dir)
        stack.web_url = stack.stand_in.start()
    return stack


class StandInGateway:
    """The gateway's paths for a stack that has none: ``/api/<service>/…`` passed through, ``web/dist`` served."""

    def __init__(self, services: dict[str, str], web_dir: Path) -> None:
        self.services = services
        self.web_dir = web_dir
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    def start(self) -> str:
        ready = threading.Event()
        port: list[int] = []

        async def serve() -> None:
            self._session = aiohttp.ClientSession(auto_decompress=False)
            app = web.Application()
            app.router.add_route("*", "/api/{service}/{rest:.*}", self._proxy)
            app.router.add_route("GET", "/{path:.*}", self._static)
            self._runner = web.AppRunner(app)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            server = site._server
            assert isinstance(server, asyncio.Server)
            port.append(server.sockets[0].getsockname()[1])
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(serve())
            self._loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        if not ready.wait(30):
            raise RuntimeError("the stand-in gateway did not start")
        return f"http://127.0.0.1:{port[0]}"

    def stop(self) -> None:
        async def close() -> None:
            if self._session is not None:
                await self._session.close()
            if self._runner is not None:
                await self._runner.cleanup()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    async def _static(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        file = (self.web_dir / path).resolve()
        if path and file.is_file() and self.web_dir.resolve() in file.parents:
            return web.FileResponse(file)
        if "." in path.rsplit("/", 1)[-1]:
            raise web.HTTPNotFound()
        return web.FileResponse(self.web_dir / "index.html")

    async def _proxy(self, request: web.Request) -> web.StreamResponse:
        base = self.services.get(request.match_info["service"])
        if base is None:
            raise web.HTTPNotFound()
        url = f"{base}/{request.match_info['rest']}"
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() in
                   ("authorization", "idempotency-key", "content-type", "accept", "last-event-id")}
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request, url.replace("http://", "ws://", 1), headers)
        try:
            upstream = await self._session.request(request.method, url, params=request.query, headers=headers,
                                                   data=await request.read())
        except aiohttp.ClientError:
            return web.json_response({"type": "https://elysium.dev/problems/upstream-unavailable",
                                      "title": "upstream unavailable", "status": 502},
                                     status=502, content_type="application/problem+json")
        async with upstream:
            response = web.StreamResponse(status=upstream.status)
            for name in ("Content-Type", "Content-Encoding", "Location", "Retry-After"):
                if name in upstream.headers:
                    response.headers[name] = upstream.headers[name]
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    async def _websocket(self, request: web.Request, url: str, headers: dict[str, str]) -> web.StreamResponse:
        assert self._session is not None
        client = web.WebSocketResponse()
        await client.prepare(request)
        async with self._session.ws_connect(url, params=request.query, headers=headers) as upstream:
            async def down() -> None:
                async for msg in upstream:
                    if msg.type == aiohttp.WSMsgType.BINARY:
                        await client.send_bytes(msg.data)
                    elif msg.type == aiohttp.WSMsgType.TEXT:
                        await client.send_str(msg.data)
                await client.close()

            task = asyncio.create_task(down())
            async for msg in client:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    await upstream.send_bytes(msg.data)
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    await upstream.send_str(msg.data)
            await upstream.close()
            task.cancel()
        return client
