"""The built web client (``web/dist``): its files, ``index.html`` for client-side routes, and a page
saying how to build it when it is not built.

* ``/assets/*`` are named by their content hash: cached for a year, ``immutable``. Text (HTML,
  scripts, styles, SVG, JSON) is compressed when the browser accepts it.
* ``index.html`` (and every client-side route answered with it) is ``no-cache``: a new build is
  seen on the next load. Other files (``favicon.svg``, ``robots.txt``) are revalidated after an hour.
* A path is resolved inside the folder and refused (404) if it leaves it, by ``..``, an encoded
  separator, a NUL or a symlink pointing out; dotfiles are never served.
* A ``GET`` or ``HEAD`` of a path that is no file and does not end in a file type's suffix, and is not
  under ``/api``, answers ``index.html``; a missing ``/x.js`` (or any known type) is 404 problem+json.
"""

from __future__ import annotations

import html
import mimetypes
from pathlib import Path, PurePosixPath

from aiohttp import web

from elysium.problem import shared

ASSET_CACHE = "public, max-age=31536000, immutable"
INDEX_CACHE = "no-cache"
OTHER_CACHE = "public, max-age=3600"
RESERVED_PREFIXES = ("/api/", "/graphql")
FILE_SUFFIXES = frozenset({".map", ".js", ".mjs", ".css", ".json", ".ico", ".woff", ".woff2", ".ttf", ".wasm",
                           ".webmanifest", ".txt", ".xml", ".html"})
CONDITIONAL = ("If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range")
COMPRESSIBLE = frozenset({"application/json", "application/manifest+json", "image/svg+xml", "application/wasm"})

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Elysium: the web client is not built</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;
color:#111;background:#fff}}
code{{background:#eee;padding:.1rem .3rem}}</style></head>
<body><main id="main"><h1>The web client is not built</h1>
<p>The gateway serves the web client from <code>{folder}</code>, which holds no <code>index.html</code>.</p>
<p>Build it with <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code> (<code>elysium up</code> does this
itself when the client's sources change), or point <code>ELYSIUM_GATEWAY_WEB_DIR</code> at a built client.</p>
<p>The APIs answer meanwhile: <a href="/api/gateway/v1/status">/api/gateway/v1/status</a>.</p>
</main></body></html>
"""

mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("application/manifest+json", ".webmanifest")
mimetypes.add_type("image/svg+xml", ".svg")
mimetypes.add_type("font/woff2", ".woff2")
mimetypes.add_type("application/wasm", ".wasm")


class WebClient:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def built(self) -> bool:
        return (self.root / "index.html").is_file()

    def resolve(self, path: str) -> Path | None:
        """The file ``path`` (the URL's decoded path) names inside the folder, or None."""
        if "\x00" in path or "\\" in path:
            return None
        parts = PurePosixPath(path).parts[1:] if path.startswith("/") else PurePosixPath(path).parts
        if any(p in ("..", ".") or p.startswith(".") for p in parts):
            return None
        candidate = self.root.joinpath(*parts)
        try:
            real = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not real.is_relative_to(self.root) or not real.is_file():
            return None
        return real

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith(RESERVED_PREFIXES) or path in ("/api", "/graphql"):
            raise shared("not-found", f"no resource at {path[:200]}")
        if not self.built():
            if _has_extension(path):
                raise shared("not-found", f"no resource at {path[:200]}: the web client is not built")
            return web.Response(status=503, text=NOT_BUILT.format(folder=html.escape(str(self.root))),
                                content_type="text/html", headers={"Cache-Control": "no-store", "Retry-After": "30"})
        found = None if path == "/" else self.resolve(path)
        # Compressed only for a plain GET: aiohttp would write a compressed body's trailer after a HEAD,
        # a 304 or a 206 answer, which have no body (and would break the connection's next answer).
        compress = request.method == "GET" and not any(h in request.headers for h in CONDITIONAL)
        if found is None:
            if _has_extension(path):
                raise shared("not-found", f"no resource at {path[:200]}")
            return self._file(self.root / "index.html", INDEX_CACHE, compress=compress)
        if found.name == "index.html":
            return self._file(found, INDEX_CACHE, compress=compress)
        return self._file(found, ASSET_CACHE if path.startswith("/assets/") else OTHER_CACHE, compress=compress)

    @staticmethod
    def _file(path: Path, cache: str, *, compress: bool) -> web.FileResponse:
        content_type, _ = mimetypes.guess_type(path.name)
        headers = {"Cache-Control": cache, "X-Content-Type-Options": "nosniff", "Vary": "Accept-Encoding"}
        if content_type:
            headers["Content-Type"] = content_type + ("; charset=utf-8" if content_type.startswith("text/") else "")
        response = web.FileResponse(path, headers=headers)
        if compress and (content_type in COMPRESSIBLE or (content_type or "").startswith("text/")):
            response.enable_compression()  # gzip or deflate, as the browser's Accept-Encoding allows
        return response


def _has_extension(path: str) -> bool:
    """Whether ``path`` names a file (``/assets/x.js``, ``/robots.txt``) rather than a client route: its
    suffix is a known file type. A route ending in an id with a dot (match ids: ``duel.<24 hex>``, or
    ``/players/ann.lee``) is the app's."""
    suffix = PurePosixPath(path).suffix.lower()
    return bool(suffix) and (suffix in FILE_SUFFIXES or mimetypes.guess_type("x" + suffix)[0] is not None)
