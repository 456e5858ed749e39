"""The service's exception tree and its problem types (RFC 9457).

:class:`Problem` subclasses are the peer's fault or an expected refusal; each maps to one HTTP
status and one stable ``type`` URI (``urn:elysium:problem:<code>``). Anything else reaching
the HTTP boundary is our bug: it is logged and answered with a generic 500.
"""

from __future__ import annotations

from typing import Any

TYPE_PREFIX = "urn:elysium:problem:"

# code -> (status, title). Codes are stable: clients branch on them.
PROBLEMS: dict[str, tuple[int, str]] = {
    "invalid_request": (400, "The request is not valid"),
    "invalid_json": (400, "The body is not JSON"),
    "unsupported_media_type": (415, "The body must be application/json"),
    "body_too_large": (413, "The body is too large"),
    "idempotency_key_missing": (400, "An Idempotency-Key header is required"),
    "idempotency_key_invalid": (400, "The Idempotency-Key header is not valid"),
    "idempotency_key_reused": (422, "The Idempotency-Key was used for a different request"),
    "unauthorized": (401, "Authentication is required"),
    "invalid_token": (401, "The access token is not valid"),
    "invalid_credentials": (401, "Wrong username or password"),
    "invalid_refresh_token": (401, "The refresh token is not valid"),
    "refresh_token_reused": (401, "The refresh token was already used; the session is revoked"),
    "forbidden": (403, "Not allowed"),
    "admin_disabled": (403, "The admin API is not configured"),
    "not_found": (404, "Not found"),
    "unknown_item": (404, "No such item type"),
    "unknown_account": (404, "No such account"),
    "method_not_allowed": (405, "Method not allowed"),
    "username_taken": (409, "That username is taken"),
    "insufficient_funds": (409, "Not enough money"),
    "balance_limit": (409, "The balance would pass its limit"),
    "sold_out": (409, "The supply cap of this item type is reached"),
    "already_owned": (409, "A unique item of this type is already owned"),
    "not_for_sale": (409, "This item type is not sold for that currency"),
    "cap_below_supply": (409, "The new supply cap is below the items already made"),
    "cap_change": (409, "A supply cap can only be set when an item type is created"),
    "rate_limited": (429, "Too many attempts"),
    "busy": (503, "Too much contention; retry the same request"),
    "unavailable": (503, "A backing service is unavailable"),
    "internal": (500, "Internal error"),
}


class Problem(Exception):
    """An expected refusal the client should see as problem+json."""

    def __init__(self, code: str, detail: str = "", *, errors: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        if code not in PROBLEMS:
            raise ValueError(f"unknown problem code {code}")
        super().__init__(detail or PROBLEMS[code][1])
        self.code = code
        self.status, self.title = PROBLEMS[code]
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra

    def body(self, instance: str) -> dict[str, Any]:
        out: dict[str, Any] = {"type": TYPE_PREFIX + self.code, "title": self.title, "status": self.status,
                               "detail": self.detail, "instance": instance, "code": self.code}
        if self.errors:
            out["errors"] = self.errors
        out.update(self.extra)
        return out


class Busy(Problem):
    """Retries of a contended transaction ran out; nothing was applied."""

    def __init__(self) -> None:
        super().__init__("busy", "the request met too much contention and changed nothing; retry it",
                         headers={"Retry-After": "1"})
