"""The built web client: files, client-side routes, cache headers, what is never served, and the
page shown before the client is built."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from tests.gateway.servers import gateway

INDEX = b'<!doctype html><html><head><script type="module" src="/assets/index-4f2a9c.js"></script></head></html>'


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_bytes(INDEX)
    (root / "assets" / "index-4f2a9c.js").write_text("console.log('app')")
    (root / "assets" / "index-4f2a9c.css").write_text("body{}")
    (root / "favicon.svg").write_text("<svg/>")
    (root / ".elysium-build").write_text("stamp")
    (tmp_path / "secret.txt").write_text("outside the client")
    (root / "assets" / "leak.js").symlink_to(tmp_path / "secret.txt")
    return root


async def raw_get(base: str, target: str) -> tuple[int, bytes]:
    """A GET of ``target`` exactly as written (no client normalising ``..`` or escapes away)."""
    url = URL(base)
    assert url.host and url.port
    reader, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: {url.host}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


async def test_files_routes_and_cache_headers(dist: Path) -> None:
    async with gateway(web_dir=dist) as gw, aiohttp.ClientSession() as s:
        async with s.get(gw + "/") as r:
            assert r.status == 200 and await r.read() == INDEX
            assert r.headers["Cache-Control"] == "no-cache" and r.content_type == "text/html"
        for route in ("/market", "/market/listings/l-42", "/ops/rooms", "/watch/m-1", "/index.html",
                      "/replays/duel.0123456789abcdef01234567", "/players/ann.lee", "/watch/arena.5f1e"):
            async with s.get(gw + route) as r:
                assert r.status == 200 and await r.read() == INDEX, route
                assert r.headers["Cache-Control"] == "no-cache", route
        async with s.get(gw + "/assets/index-4f2a9c.js") as r:
            assert r.status == 200 and r.content_type == "text/javascript"
            assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        async with s.get(gw + "/assets/index-4f2a9c.css") as r:
            assert r.content_type == "text/css"
        async with s.get(gw + "/favicon.svg") as r:
            assert r.status == 200 and r.content_type == "image/svg+xml"
            assert r.headers["Cache-Control"] == "public, max-age=3600"
        async with s.head(gw + "/market") as r:
            assert r.status == 200
        async with s.get(gw + "/assets/index-4f2a9c.js", headers={"Accept-Encoding": "gzip"},
                         auto_decompress=False) as r:
            assert r.headers["Content-Encoding"] == "gzip"
            assert gzip.decompress(await r.read()) == b"console.log('app')"
        async with s.get(gw + "/assets/index-4f2a9c.js", headers={"Accept-Encoding": "identity"}) as r:
            assert "Content-Encoding" not in r.headers and await r.read() == b"console.log('app')"
        for missing in ("/assets/missing-000.js", "/assets/index-4f2a9c.js.map", "/robots.txt", "/logo.png"):
            async with s.get(gw + missing) as r:  # a file that is not there is not the app
                assert r.status == 404 and r.content_type == "application/problem+json", missing


async def test_revalidation_and_ranges_answer_without_a_body_and_the_connection_stays_sound(dist: Path) -> None:
    """One keep-alive connection throughout: a stray byte after a body-less answer would break the next one."""
    connector = aiohttp.TCPConnector(limit=1)
    async with gateway(web_dir=dist) as gw, aiohttp.ClientSession(connector=connector) as s:
        async with s.get(gw + "/") as r:
            etag, modified = r.headers["ETag"], r.headers["Last-Modified"]
            assert await r.read() == INDEX
        for conditional in ({"If-None-Match": etag}, {"If-Modified-Since": modified}):
            async with s.get(gw + "/market", headers={**conditional, "Accept-Encoding": "gzip"}) as r:
                assert r.status == 304 and await r.read() == b""
            async with s.get(gw + "/assets/index-4f2a9c.js", headers={"Accept-Encoding": "gzip"}) as r:
                assert r.status == 200 and await r.read() == b"console.log('app')"
        async with s.get(gw + "/assets/index-4f2a9c.js", headers={"Range": "bytes=0-6"}) as r:
            assert r.status == 206 and await r.read() == b"console"
        async with s.head(gw + "/assets/index-4f2a9c.js", headers={"Accept-Encoding": "gzip"}) as r:
            assert r.status == 200 and await r.read() == b""
        async with s.get(gw + "/favicon.svg") as r:
            assert r.status == 200 and await r.read() == b"<svg/>"


async def test_api_paths_are_never_the_app(dist: Path) -> None:
    async with gateway(web_dir=dist) as gw, aiohttp.ClientSession() as s:
        for path in ("/api/nothing", "/api/gateway/v1/nothing", "/api", "/graphql/x"):
            async with s.get(gw + path) as r:
                assert r.status == 404 and r.content_type == "application/problem+json", path


@pytest.mark.parametrize("target", [
    "/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt",
    "/..%2fsecret.txt", "/assets/..%5c..%5csecret.txt", "/assets/leak.js", "/.elysium-build",
    "/assets/index-4f2a9c.js%00.html", "//etc/passwd"])
async def test_nothing_outside_the_client_nor_a_dotfile_is_served(dist: Path, target: str) -> None:
    async with gateway(web_dir=dist) as gw:
        status, body = await raw_get(gw, target)
    assert b"outside the client" not in body and b"stamp" not in body and b"root:" not in body
    assert status in (400, 404) or (status == 200 and body == INDEX), (target, status, body[:200])


async def test_an_unbuilt_client_is_a_page_saying_how_to_build_it(tmp_path: Path) -> None:
    async with gateway(web_dir=tmp_path / "nothing-here") as gw, aiohttp.ClientSession() as s:
        async with s.get(gw + "/market") as r:
            assert r.status == 503 and r.content_type == "text/html"
            page = await r.text()
        assert "<h1>The web client is not built</h1>" in page and "npm run build" in page
        assert str(tmp_path / "nothing-here") in page
        async with s.get(gw + "/assets/index.js") as r:
            assert r.status == 404
        async with s.get(gw + "/api/gateway/v1/status") as r:
            assert r.status == 200  # the APIs still answer
