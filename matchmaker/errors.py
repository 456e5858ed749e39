"""The matchmaker's exceptions. A :class:`Problem` is the peer's fault (or a state the peer
must know about) and becomes an ``application/problem+json`` answer with a stable ``type``;
anything else escaping a handler is our bug and becomes a generic 500."""

from __future__ import annotations

from typing import Any

TYPE_PREFIX = "urn:elysium:problem:"


class MatchmakerError(Exception):
    """Base of everything the matchmaker raises on purpose."""


class Problem(MatchmakerError):
    def __init__(self, status: int, code: str, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.extra = extra

    def body(self, instance: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {"type": TYPE_PREFIX + self.code, "title": self.title, "status": self.status}
        if self.detail:
            out["detail"] = self.detail
        if instance:
            out["instance"] = instance
        out.update(self.extra)
        return out


def invalid(detail: str) -> Problem:
    return Problem(400, "invalid-request", "The request is not valid", detail)


def unauthorized(code: str, detail: str) -> Problem:
    return Problem(401, "unauthorized", "A valid player access token is required", detail, reason=code)


def not_found(code: str, detail: str) -> Problem:
    return Problem(404, code, "Not found", detail)


def conflict(code: str, title: str, detail: str = "", **extra: Any) -> Problem:
    return Problem(409, code, title, detail, **extra)


class StoreUnavailable(MatchmakerError):
    """Redis or MongoDB could not be reached."""
