"""The matchmaker's exceptions. A :class:`Problem` (the kernel's :class:`elysium.problem.Problem`)
is the peer's fault (or a state the peer must know about) and becomes an
``application/problem+json`` answer with a stable ``type``; anything else escaping a handler
is our bug and ``elysium.http`` answers it with a generic 500."""

from __future__ import annotations

from typing import Any

from elysium import problem


class MatchmakerError(Exception):
    """Base of everything the matchmaker raises on purpose."""


class Problem(problem.Problem, MatchmakerError):
    """``Problem(status, code, title, detail, **extra)``; codes are lower kebab case."""


def invalid(detail: str) -> Problem:
    return Problem(400, "invalid-request", problem.SHARED["invalid-request"][1], detail)


def not_found(code: str, detail: str) -> Problem:
    return Problem(404, code, "Not found", detail)


def conflict(code: str, title: str, detail: str = "", **extra: Any) -> Problem:
    return Problem(409, code, title, detail, **extra)



def banned() -> Problem:
    """403 ``account-banned``: the token's account is banned (``docs/http.md``)."""
    status, title = problem.SHARED["account-banned"]
    return Problem(status, "account-banned", title, "this account is banned; its tokens are refused")
