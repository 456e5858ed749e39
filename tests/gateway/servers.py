"""Real aiohttp servers on free ports for the gateway's tests: stand-in services, and the gateway itself
built by its own ``create_app`` in front of them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from elysium import config, procs
from elysium.httprunner import AppRunner
from gateway.app import create_app
from gateway.settings import GatewaySettings


@contextlib.asynccontextmanager
async def serving(app: web.Application, *, edge: bool = False) -> AsyncIterator[str]:
    """``app`` served on 127.0.0.1 at a free port; yields its base URL. ``edge``: with the runner the
    services run under (:class:`elysium.httprunner.AppRunner`), as ``elysium gateway`` serves it."""
    runner = (AppRunner(app, shutdown_timeout=1.0, access_log=None) if edge
              else web.AppRunner(app, shutdown_timeout=1.0))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def dead_url() -> str:
    """A URL nothing listens on."""
    return f"http://127.0.0.1:{procs.free_port()}"


def settings(urls: dict[str, str] | None = None, web_dir: Path | None = None, **env: str) -> GatewaySettings:
    urls = urls or {}
    environ = {"ELYSIUM_COMMERCE_URL": urls.get("commerce") or dead_url(),
               "ELYSIUM_MATCHMAKER_URL": urls.get("matchmaker") or dead_url(),
               "ELYSIUM_SPECTATOR_URL": urls.get("spectator") or dead_url(),
               "ELYSIUM_BUTLER_URL": urls.get("butler") or dead_url(), **env}
    if web_dir is not None:
        environ["ELYSIUM_GATEWAY_WEB_DIR"] = str(web_dir)
    return config.load(GatewaySettings, environ)


@contextlib.asynccontextmanager
async def gateway(urls: dict[str, str] | None = None, web_dir: Path | None = None, **env: str) -> AsyncIterator[str]:
    """The gateway in front of ``urls`` (service -> base URL; the others point at nothing)."""
    async with serving(create_app(settings(urls, web_dir, **env)), edge=True) as url:
        yield url
