"""Cross-origin requests (CORS): which browser origins may call a service, and the headers saying so.

Pure: no I/O. ``ELYSIUM_CORS_ORIGINS`` (:func:`elysium.config.cors_origins`) is a comma list
of origins (``https://play.example.com``) or ``*``; unset, a service sends no CORS header
at all. The aiohttp edge (:mod:`elysium.http`) and the raw-socket endpoints
(:mod:`elysium.ws.rawsocket`) both answer from one :class:`Cors`:

* a preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) from an
  allowed origin gets 204 with the path's methods, the request headers a client may send
  (:data:`ALLOW_HEADERS`) and how long to remember that (:data:`MAX_AGE_S`); from another
  origin, 403 ``forbidden``;
* every other answer to an allowed origin carries ``Access-Control-Allow-Origin`` and the
  headers a script may read (:data:`EXPOSE_HEADERS`); every answer carries ``Vary: Origin``.

Tokens travel in ``Authorization``, never in cookies, so credentials are not allowed.
``docs/http.md`` states the rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ALLOW_HEADERS", "EXPOSE_HEADERS", "MAX_AGE_S", "Cors", "check_origins", "is_preflight", "policy"]

ALLOW_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id")
EXPOSE_HEADERS = ("X-Request-Id", "Retry-After", "Location", "Idempotent-Replayed")
MAX_AGE_S = 600
ANY = "*"
_ORIGIN = re.compile(r"https?://[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?")


def check_origins(origins: tuple[str, ...]) -> str | None:
    """Why ``origins`` is not a valid ``ELYSIUM_CORS_ORIGINS``, or None."""
    for origin in origins:
        if origin != ANY and not _ORIGIN.fullmatch(origin.lower()):
            return (f"{origin[:100]!r} is not * or an origin such as https://play.example.com "
                    f"(scheme, host and an optional port; no path, no trailing slash)")
    if ANY in origins and len(origins) > 1:
        return "* already allows every origin; give it alone"
    return None


@dataclass(frozen=True)
class Cors:
    """The allowed origins (lower case), or ``*``."""

    origins: frozenset[str]

    def allowed(self, origin: str | None) -> str | None:
        """What ``Access-Control-Allow-Origin`` says to ``origin``, or None when it is not allowed."""
        if not origin:
            return None
        if ANY in self.origins:
            return ANY
        return origin if origin.lower() in self.origins else None

    def headers(self, origin: str | None) -> dict[str, str]:
        """The CORS headers of an answer (not a preflight) to a request from ``origin``."""
        allowed = self.allowed(origin)
        if allowed is None:
            return {"Vary": "Origin"}
        return {"Access-Control-Allow-Origin": allowed, "Access-Control-Expose-Headers": ", ".join(EXPOSE_HEADERS),
                "Vary": "Origin"}

    def preflight(self, origin: str | None, methods: Iterable[str]) -> dict[str, str] | None:
        """The headers of a 204 answer to a preflight from ``origin``, or None to refuse it."""
        allowed = self.allowed(origin)
        if allowed is None:
            return None
        return {"Access-Control-Allow-Origin": allowed, "Access-Control-Allow-Methods": ", ".join(sorted(methods)),
                "Access-Control-Allow-Headers": ", ".join(ALLOW_HEADERS), "Access-Control-Max-Age": str(MAX_AGE_S),
                "Vary": "Origin"}


def policy(origins: tuple[str, ...]) -> Cors | None:
    """The :class:`Cors` of a validated ``ELYSIUM_CORS_ORIGINS``; None (no CORS headers) when it is empty."""
    return Cors(frozenset(origin.lower() for origin in origins)) if origins else None


def is_preflight(method: str, origin: str | None, requested_method: str | None) -> bool:
    return method == "OPTIONS" and bool(origin) and bool(requested_method)
