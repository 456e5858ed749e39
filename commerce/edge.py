"""The HTTP edge: the problem+json middleware, JSON bodies, bearer tokens, idempotency keys."""

from __future__ import annotations

import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from commerce.errors import Problem
from elysium import tokens

log = logging.getLogger("commerce.http")

PROBLEM_TYPE = "application/problem+json"
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,128}")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def problem_response(exc: Problem, instance: str) -> web.Response:
    return web.Response(status=exc.status, text=json.dumps(exc.body(instance)), content_type=PROBLEM_TYPE,
                        headers=exc.headers)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(body, separators=(",", ":")),
                        content_type="application/json", headers=headers)


def make_middleware(observe: Callable[[str, str, int, float], None]) -> Any:
    @web.middleware
    async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except Problem as exc:
            status = exc.status
            return problem_response(exc, request.path)
        except web.HTTPException as exc:
            status = exc.status
            if exc.status == 404:
                return problem_response(Problem("not_found", f"no resource at {request.path}"), request.path)
            if exc.status == 405:
                return problem_response(Problem("method_not_allowed", f"{request.method} is not allowed here"),
                                        request.path)
            if exc.status == 413:
                return problem_response(Problem("body_too_large"), request.path)
            raise
        except (PyMongoError, RedisError) as exc:
            status = 503
            log.warning("backing service error", extra={"path": request.path, "error": str(exc)[:300]})
            return problem_response(Problem("unavailable", "MongoDB or Redis did not answer; money and items "
                                                           "change only in whole transactions, so retry the "
                                                           "same request", headers={"Retry-After": "1"}),
                                    request.path)
        except Exception:
            log.exception("unexpected error", extra={"path": request.path, "method": request.method})
            return problem_response(Problem("internal", "something went wrong on our side; nothing was charged "
                                                        "twice; retry with the same Idempotency-Key"), request.path)
        finally:
            observe(request.method, route, status, time.perf_counter() - started)

    return problems


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


async def read_json(request: web.Request, limit: int) -> Any:
    if request.content_length is not None and request.content_length > limit:
        raise Problem("body_too_large", f"the body may be at most {limit} bytes")
    if request.content_type != "application/json":
        raise Problem("unsupported_media_type", "send the body as application/json")
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise Problem("body_too_large", f"the body may be at most {limit} bytes")
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem("invalid_json", f"the body is not valid JSON: {str(exc)[:200]}") from None


def idempotency_key(request: web.Request) -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        raise Problem("idempotency_key_missing", "send an Idempotency-Key header (a unique string per operation, "
                                                 "the same on every retry)")
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise Problem("idempotency_key_invalid", "the Idempotency-Key must be 1 to 128 visible ASCII characters")
    return key


def bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem("unauthorized", "send Authorization: Bearer <access token>",
                      headers={"WWW-Authenticate": 'Bearer realm="elysium"'})
    return token.strip()


def verify(verifier: tokens.Verifier, token: str, audience: str, issuer: str | None) -> dict[str, Any]:
    try:
        return verifier.verify(token, audience, issuer=issuer)
    except tokens.TokenError as exc:
        raise Problem("invalid_token", str(exc), token_error=exc.code,
                      headers={"WWW-Authenticate": 'Bearer realm="elysium", error="invalid_token"'}) from None


class VerifiedTokens:
    """Remembers tokens whose signature already checked out, until they expire.

    The key is the whole token string, so a hit is exactly the token verified before; only
    the expiry is checked again. Bounded: the oldest entries go first.
    """

    def __init__(self, verifier: tokens.Verifier, audience: str, issuer: str | None, size: int = 10_000) -> None:
        self.verifier = verifier
        self.audience = audience
        self.issuer = issuer
        self.size = size
        self._claims: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def claims(self, token: str) -> dict[str, Any]:
        found = self._claims.get(token)
        if found is not None and found["exp"] + tokens.LEEWAY_S >= time.time():
            return found
        claims = verify(self.verifier, token, self.audience, self.issuer)
        self._claims[token] = claims
        if len(self._claims) > self.size:
            self._claims.popitem(last=False)
        return claims
