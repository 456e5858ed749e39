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
from strawberry.extensions import MaskErrors


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


# --- the one place errors leave the schema -------------------------------------------------------

INTERNAL_MESSAGE = "something went wrong on our side"
# Refusals of the document itself (parsing, validation, the limits), by what their message says.
DOCUMENT_CODES = (("exceeds maximum operation depth", "query-too-deep"),
                  ("maximum allowed token", "query-too-large"), ("more than", "query-too-large"),
                  ("alias", "too-many-aliases"), ("Syntax Error", "invalid-query"))


def _document_code(message: str) -> str:
    return next((code for needle, code in DOCUMENT_CODES if needle in message), "invalid-query")


class ErrorCodes(MaskErrors):
    """Every error the client sees has ``extensions: {code, status}``: a :class:`GatewayError` as it is,
    a refusal of the document with a code of its own, and our bugs masked as ``internal``."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=self._unexpected, error_message=INTERNAL_MESSAGE)

    @staticmethod
    def _unexpected(error: GraphQLError) -> bool:
        return error.original_error is not None and not isinstance(error.original_error, GraphQLError)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return GraphQLError(INTERNAL_MESSAGE, nodes=error.nodes, source=error.source, positions=error.positions,
                            path=error.path, extensions={"code": "internal", "status": 500})

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        out = super()._process_errors(errors)
        for error in out:
            if (error.extensions or {}).get("code"):
                continue
            if error.path is not None:  # met while executing: an answer short of what its API promises
                error.extensions = {**(error.extensions or {}), "code": "internal", "status": 500}
            else:
                error.extensions = {**(error.extensions or {}), "code": _document_code(error.message),
                                    "status": 400}
        return out
