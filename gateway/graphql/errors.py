"""GraphQL errors the gateway answers, each with ``extensions: {code, status}``.

``code`` is the last segment of the upstream problem's ``type`` (``urn:elysium:problem:unknown-listing``
gives ``unknown-listing``), or one
of the gateway's own: ``upstream-unavailable`` (a service did not answer), ``bad-upstream``
(it answered something that is not the JSON its API promises), ``query-too-costly``.
"""

from __future__ import annotations

import re
from typing import Any

from graphql import GraphQLError


class GatewayError(GraphQLError):
    """An expected failure of one field, shown to the client as it is."""

    def __init__(self, code: str, message: str, status: int, **extra: Any) -> None:
        super().__init__(message, extensions={"code": code, "status": status, **extra})
        self.code = code
        self.status = status


def problem_error(status: int, problem: Any) -> GatewayError:
    """The GraphQL error of an upstream ``application/problem+json`` answer (or any non-2xx)."""
    body = problem if isinstance(problem, dict) else {}
    kind, code = body.get("type"), body.get("code")
    if not isinstance(code, str) or not code:  # the type URN's last segment (urn:elysium:problem:<code>)
        code = re.split(r"[:/]", kind.rstrip("/:"))[-1] if isinstance(kind, str) and kind else f"http-{status}"
    detail = body.get("detail") or body.get("title") or f"the service answered {status}"
    extra: dict[str, Any] = {}
    if isinstance(body.get("errors"), dict):
        extra["errors"] = body["errors"]
    return GatewayError(code[:64], str(detail)[:500], status, **extra)


def unavailable(service: str) -> GatewayError:
    return GatewayError("upstream-unavailable", f"{service} is unreachable", 502)


def bad_upstream(service: str) -> GatewayError:
    return GatewayError("bad-upstream", f"{service} answered something unreadable", 502)


def invalid(message: str, **extra: Any) -> GatewayError:
    return GatewayError("invalid-request", message, 400, **extra)
