"""Problem details (RFC 9457): the one error vocabulary of every Elysium HTTP answer.

Pure: no I/O. ``elysium.http`` turns a :class:`Problem` into an aiohttp response; the raw
websocket endpoints (game server, relay) write :meth:`Problem.encode` straight to the socket.

Problem types are URNs, ``urn:elysium:problem:<code>``, with ``code`` in lower kebab case
(``insufficient-funds``, ``invalid-request``). The code is also sent on its own as ``code``
so clients can branch on it without parsing the URN. ``docs/http.md`` lists the shared codes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:elysium:problem:"
CODE = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")

# HTTP reason phrases for the statuses Elysium answers with, used as default titles.
TITLES: dict[int, str] = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    408: "Request Timeout", 409: "Conflict", 410: "Gone", 413: "Content Too Large", 415: "Unsupported Media Type",
    422: "Unprocessable Content", 426: "Upgrade Required", 429: "Too Many Requests", 431:
    "Request Header Fields Too Large", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
}


def type_uri(code: str) -> str:
    return TYPE_PREFIX + code


class Problem(Exception):
    """An expected refusal, answered as ``application/problem+json``.

    ``status`` is the HTTP status, ``code`` the stable problem code (kebab case), ``title`` a
    short summary that does not change between occurrences, ``detail`` this occurrence.
    ``errors`` maps field paths to what is wrong with each; ``extra`` members are added
    to the body as they are.
    """

    def __init__(self, status: int, code: str, title: str = "", detail: str = "", *,
                 errors: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
                 **extra: Any) -> None:
        if not CODE.fullmatch(code):
            raise ValueError(f"problem code {code!r} is not lower kebab case")
        self.status = status
        self.code = code
        self.title = title or TITLES.get(status, "Error")
        self.detail = detail or self.title
        self.errors = dict(errors) if errors else None
        self.headers = dict(headers) if headers else {}
        self.extra = extra
        super().__init__(self.detail)

    @property
    def type(self) -> str:
        return type_uri(self.code)

    def body(self, instance: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status,
                               "detail": self.detail, "code": self.code}
        if instance:
            out["instance"] = instance
        if self.errors:
            out["errors"] = self.errors
        out.update(self.extra)
        return out

    def encode(self, instance: str = "") -> bytes:
        return json.dumps(self.body(instance), separators=(",", ":")).encode()


# The codes every HTTP service shares, answered by the edge itself or by any service for the
# same reason: code -> (status, title). A service adds its own codes in its own table.
SHARED: dict[str, tuple[int, str]] = {
    "bad-request": (400, "The request is not valid HTTP"),
    "invalid-request": (400, "The request is not valid"),
    "invalid-json": (400, "The body is not JSON"),
    "idempotency-key-missing": (400, "An Idempotency-Key header is required"),
    "idempotency-key-invalid": (400, "The Idempotency-Key header is not valid"),
    "unauthorized": (401, "Authentication is required"),
    "invalid-token": (401, "The access token is not valid"),
    "forbidden": (403, "Not allowed"),
    "account-banned": (403, "The account is banned"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "body-too-large": (413, "The body is too large"),
    "unsupported-media-type": (415, "The body must be application/json"),
    "rate-limited": (429, "Too many requests"),
    "headers-too-large": (431, "The request head is too large"),
    "http-error": (400, "The request was refused"),
    "internal": (500, "Internal error"),
    "unavailable": (503, "A backing service is unavailable"),
}


def shared(code: str, detail: str = "", *, status: int | None = None, errors: Mapping[str, str] | None = None,
           headers: Mapping[str, str] | None = None, **extra: Any) -> Problem:
    """A :class:`Problem` with one of the :data:`SHARED` codes and its title (``status`` may override)."""
    default_status, title = SHARED[code]
    return Problem(status or default_status, code, title, detail, errors=errors, headers=headers, **extra)
