"""The HTTP edge every Elysium aiohttp service shares (``docs/http.md`` is its contract).

* :func:`application` builds a ``web.Application`` with the one problem+json middleware:
  a :class:`~elysium.problem.Problem` becomes its answer, aiohttp's 404/405/413 become
  problems, Redis and PyMongo errors become 503 ``unavailable`` with ``Retry-After``, and
  anything else is logged with its traceback and answered with a generic 500 ``internal``.
  The same middleware reads or makes the request id, writes one JSON access log line and
  records the per-route request metric (:class:`RequestMetrics`).
* :func:`add_probes` adds ``/healthz``, ``/readyz``, ``/metrics`` and ``/v1/openapi.json``.
* :func:`bearer`, :func:`verify` and :class:`VerifiedTokens` check access tokens;
  :func:`read_json` (strict: :func:`parse_json`), :func:`json_response` and
  :func:`idempotency_key` are the JSON edge.
* With ``cors_origins`` the middleware answers CORS preflights and adds CORS headers
  (:mod:`elysium.cors`). What aiohttp refuses before the middleware runs is answered by
  :class:`elysium.httprunner.AppRunner`.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
import os
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from elysium import cors, logs, tokens
from elysium.metrics import CONTENT_TYPE_LATEST, Metrics
from elysium.problem import CONTENT_TYPE as PROBLEM_CONTENT_TYPE
from elysium.problem import Problem, shared

__all__ = [
    "BACKING_ERRORS", "IDEMPOTENCY_KEY", "REQUEST_ID", "REQUEST_ID_HEADER", "REQUEST_ID_KEY", "Handler", "Ready",
    "RequestMetrics", "VerifiedTokens", "add_probes", "application", "bearer", "idempotency_key", "json_response",
    "middleware", "parse_json", "problem_response", "read_json", "stream_response", "verify",
]

log = logging.getLogger("elysium.http")
access_log = logging.getLogger("elysium.http.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Observe = Callable[[str, str, int, float], None]

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")  # a client's id is kept when it is 1-128 visible ASCII characters
REQUEST_ID_KEY = web.RequestKey("request_id", str)
CORS_HEADERS_KEY = web.RequestKey("cors_headers", dict[str, str])  # what every answer to this request carries
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,128}")
BACKING_ERRORS: tuple[type[BaseException], ...] = (RedisError, PyMongoError)
CLIENT_CLOSED = 499  # status recorded for a request whose client went away before the answer
HTTP_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
WWW_AUTHENTICATE = 'Bearer realm="elysium"'
UNAVAILABLE_DETAIL = "a backing service did not answer; retry the same request shortly"
INTERNAL_DETAIL = "something went wrong on our side"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})  # no Idempotency-Key applies to these


class RequestMetrics:
    """The per-route request count and latency every HTTP service exports.

    Exported as ``http_requests_total{method,route,status}`` and the histogram
    ``http_request_seconds{method,route}``. Recording is a dict update and a bisect (no
    locks, no label lookups): it runs on every request, and prometheus_client's labelled
    children cost more than the rest of the edge. The families are built when scraped.
    """

    def __init__(self, metrics: Metrics, buckets_s: tuple[float, ...] = HTTP_BUCKETS_S) -> None:
        self.prefix = metrics.prefix
        self.bounds = buckets_s
        self.counts: dict[tuple[str, str, int], int] = {}
        self.latency: dict[tuple[str, str], list[float]] = {}  # a count per bucket, +Inf, then the sum
        metrics.registry.register(self)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        self.counts[key] = self.counts.get(key, 0) + 1
        row = self.latency.get((method, route))
        if row is None:
            row = self.latency[(method, route)] = [0.0] * (len(self.bounds) + 2)
        row[bisect.bisect_left(self.bounds, seconds)] += 1
        row[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(self.prefix + "http_requests", "HTTP requests by route and status",
                                       labels=("method", "route", "status"))
        for (method, route, status), count in self.counts.items():
            requests.add_metric((method, route, str(status)), count)
        yield requests
        latency = HistogramMetricFamily(self.prefix + "http_request_seconds", "HTTP request latency",
                                        labels=("method", "route"))
        for labels, row in self.latency.items():
            cumulative = 0.0
            buckets: list[tuple[str, float]] = []
            for bound, in_bucket in zip((*map(floatToGoString, self.bounds), "+Inf"), row, strict=False):
                cumulative += in_bucket
                buckets.append((bound, cumulative))
            latency.add_metric(labels, buckets, row[-1])
        yield latency


# --- answers ---------------------------------------------------------------------------------

def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(body, separators=(",", ":")),
                        content_type="application/json", headers=headers)


def problem_response(problem: Problem, request: web.Request) -> web.Response:
    body = problem.body(request.path)
    request_id = request.get(REQUEST_ID_KEY)
    if request_id is not None:
        body["request_id"] = request_id
    return web.Response(status=problem.status, text=json.dumps(body, separators=(",", ":")),
                        content_type=PROBLEM_CONTENT_TYPE, headers=problem.headers)


def _http_problem(exc: web.HTTPException, request: web.Request) -> Problem:
    if exc.status == 404:
        return shared("not-found", f"no resource at {request.path[:200]}")
    if exc.status == 405:
        return shared("method-not-allowed", f"{request.method} is not allowed here",
                      headers={"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None)
    if exc.status == 413:
        return shared("body-too-large", exc.text or "")
    return shared("http-error", exc.reason, status=exc.status)


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def _request_id(request: web.Request) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if given and REQUEST_ID.fullmatch(given) else os.urandom(16).hex()


# --- the middleware ----------------------------------------------------------------------------

def middleware(*, observe: Observe | None = None, unavailable_detail: str = UNAVAILABLE_DETAIL,
               internal_detail: str = INTERNAL_DETAIL, internal_keyed_detail: str = "",
               backing_errors: tuple[type[BaseException], ...] = BACKING_ERRORS, cors_origins: tuple[str, ...] = ()
               ) -> Any:
    """The one boundary of a service: request id, problem+json answers, access log, request metric.

    ``observe(method, route, status, seconds)`` records each request (see :class:`RequestMetrics`);
    the two details are what a 503 and a 500 tell the client of this service. A 500 to a
    request that changes something and carried an ``Idempotency-Key`` adds
    ``internal_keyed_detail`` (what a retry with the same key does) after the detail.
    ``cors_origins`` (``ELYSIUM_CORS_ORIGINS``, validated) says which browser origins get
    CORS headers and preflight answers (:mod:`elysium.cors`); empty, none are sent.
    """
    policy = cors.policy(cors_origins)

    def internal(request: web.Request) -> str:
        if internal_keyed_detail and request.method not in SAFE_METHODS and "Idempotency-Key" in request.headers:
            return f"{internal_detail}; {internal_keyed_detail}"
        return internal_detail

    @web.middleware
    async def edge(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        request_id = _request_id(request)
        request[REQUEST_ID_KEY] = request_id
        token = logs.request_id.set(request_id)
        status = 500
        origin = request.headers.get("Origin")
        if policy is not None:
            request[CORS_HEADERS_KEY] = policy.headers(origin)
        try:
            try:
                if policy is not None and cors.is_preflight(request.method, origin,
                                                            request.headers.get("Access-Control-Request-Method")):
                    response = await _preflight(request, handler, policy, origin)
                else:
                    response = await handler(request)
            except Problem as exc:
                response = problem_response(exc, request)
            except web.HTTPException as exc:
                if exc.status < 400:
                    status = exc.status
                    raise
                response = problem_response(_http_problem(exc, request), request)
            except backing_errors as exc:
                log.warning("backing service error", extra={"path": request.path, "error": str(exc)[:300]})
                response = problem_response(shared("unavailable", unavailable_detail, headers={"Retry-After": "1"}),
                                            request)
            except asyncio.CancelledError:
                status = CLIENT_CLOSED
                raise
            except Exception:
                log.exception("unexpected error", extra={"path": request.path, "method": request.method})
                response = problem_response(shared("internal", internal(request)), request)
            status = response.status
            if not response.prepared:
                response.headers[REQUEST_ID_HEADER] = request_id
                if policy is not None and "Access-Control-Allow-Methods" not in response.headers:
                    _add_cors(response, request[CORS_HEADERS_KEY])
            return response
        finally:
            seconds = time.perf_counter() - started
            route = _route(request)
            if observe is not None:
                observe(request.method, route, status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info("request", extra={"method": request.method, "route": route, "status": status,
                                                  "duration_ms": round(seconds * 1000, 3), "request_id": request_id})
            logs.request_id.reset(token)

    return edge


def stream_response(request: web.Request, headers: Mapping[str, str] | None = None) -> web.StreamResponse:
    """A ``StreamResponse`` carrying the request id.

    A streamed answer is prepared inside its handler, before the middleware sees it, so
    handlers that stream make their response here (one header, no per-response signal).
    """
    response = web.StreamResponse(headers=headers)
    request_id = request.get(REQUEST_ID_KEY)
    if request_id is not None:
        response.headers[REQUEST_ID_HEADER] = request_id
    cors_headers = request.get(CORS_HEADERS_KEY)
    if cors_headers is not None:
        _add_cors(response, cors_headers)
    return response


def _add_cors(response: web.StreamResponse, headers: dict[str, str]) -> None:
    for name, value in headers.items():
        if name == "Vary" and "Vary" in response.headers:
            if "origin" not in response.headers["Vary"].lower():
                response.headers["Vary"] += ", Origin"
        else:
            response.headers[name] = value


async def _preflight(request: web.Request, handler: Handler, policy: cors.Cors, origin: str | None
                     ) -> web.StreamResponse:
    """A CORS preflight: 204 with the path's methods, 403 to an origin not allowed.

    A path no route has is 404 as ever; a route that takes OPTIONS itself answers it.
    """
    refused = request.match_info.http_exception
    if not isinstance(refused, web.HTTPMethodNotAllowed):
        return await handler(request)
    headers = policy.preflight(origin, refused.allowed_methods)
    if headers is None:
        raise shared("forbidden", f"the origin {str(origin)[:100]} may not call this service from a browser")
    return web.Response(status=204, headers=headers)


def application(*, observe: Observe | None = None, client_max_size: int = 1024 ** 2,
                unavailable_detail: str = UNAVAILABLE_DETAIL, internal_detail: str = INTERNAL_DETAIL,
                internal_keyed_detail: str = "", cors_origins: tuple[str, ...] = (),
                backing_errors: tuple[type[BaseException], ...] = BACKING_ERRORS) -> web.Application:
    """A ``web.Application`` behind the shared edge (:func:`middleware`); every answer carries the request id."""
    app = web.Application(middlewares=[middleware(observe=observe, unavailable_detail=unavailable_detail,
                                                  internal_detail=internal_detail,
                                                  internal_keyed_detail=internal_keyed_detail,
                                                  backing_errors=backing_errors, cors_origins=cors_origins)],
                          client_max_size=client_max_size)
    return app


# --- probes ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ready:
    """What ``/readyz`` answers: 200 when ``ready``, else 503; ``checks`` are added to the body."""

    ready: bool
    checks: Mapping[str, object] = field(default_factory=dict)


def add_probes(app: web.Application, *, ready: Callable[[], Awaitable[Ready]], metrics: Callable[[], bytes],
               openapi: Mapping[str, Any]) -> None:
    """Add ``/healthz``, ``/readyz``, ``/metrics`` (Prometheus text) and ``/v1/openapi.json``."""
    document = json.dumps(openapi, separators=(",", ":")).encode()

    async def healthz(request: web.Request) -> web.Response:
        return json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        answer = await ready()
        return json_response({"ready": answer.ready, **answer.checks}, 200 if answer.ready else 503)

    async def metrics_handler(request: web.Request) -> web.Response:
        return web.Response(body=metrics(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def openapi_handler(request: web.Request) -> web.Response:
        return web.Response(body=document, content_type="application/json")

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/v1/openapi.json", openapi_handler)


# --- request pieces ----------------------------------------------------------------------------

MAX_JSON_DEPTH = 32  # arrays and objects inside one another, the outermost counted


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"the key {key[:64]!r} appears twice in one object")
            seen.add(key)
    return out


def _depth_over(value: Any, limit: int) -> bool:
    """Whether ``value`` nests arrays and objects more than ``limit`` deep (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def parse_json(raw: bytes | str) -> Any:
    """Strict JSON: no NaN or Infinity, no key twice in one object, at most :data:`MAX_JSON_DEPTH` deep.

    Raises ``ValueError`` with a message safe to show to the peer.
    """
    too_deep = f"arrays and objects may nest at most {MAX_JSON_DEPTH} deep"
    try:
        value = json.loads(raw, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise ValueError(too_deep) from None
    if isinstance(value, (dict, list)) and _depth_over(value, MAX_JSON_DEPTH):
        raise ValueError(too_deep)
    return value


async def read_json(request: web.Request, limit: int) -> Any:
    """The body as JSON: at most ``limit`` bytes, ``application/json``, and :func:`parse_json`'s rules."""
    if request.content_length is not None and request.content_length > limit:
        raise shared("body-too-large", f"the body may be at most {limit} bytes")
    if request.content_type != "application/json":
        raise shared("unsupported-media-type", "send the body as application/json")
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise shared("body-too-large", f"the body may be at most {limit} bytes")
    try:
        return parse_json(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise shared("invalid-json", f"the body is not valid JSON: {str(exc)[:200]}") from None
    except RecursionError:
        raise shared("invalid-json", "the body nests arrays or objects too deeply") from None


def idempotency_key(request: web.Request) -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        raise shared("idempotency-key-missing", "send an Idempotency-Key header (a unique string per operation, "
                                                "the same on every retry)")
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise shared("idempotency-key-invalid", "the Idempotency-Key must be 1 to 128 visible ASCII characters")
    return key


def bearer(request: web.Request, *, query: str | None = None) -> str:
    """The Bearer token of ``Authorization``; or, when ``query`` names one, that query parameter
    (for clients such as EventSource that cannot set headers). Missing: 401 ``unauthorized``."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    if not token and query is not None:
        token = request.query.get(query, "").strip()
    if not token:
        raise shared("unauthorized", "send Authorization: Bearer <access token>",
                     headers={"WWW-Authenticate": WWW_AUTHENTICATE})
    return token


def invalid_token(code: str, detail: str) -> Problem:
    """401 ``invalid-token``; ``code`` (a :class:`tokens.TokenError` code) is sent as ``token_error``."""
    return shared("invalid-token", detail, token_error=code,
                  headers={"WWW-Authenticate": f'{WWW_AUTHENTICATE}, error="invalid_token"'})


def verify(verifier: tokens.Verifier, token: str, audience: str, issuer: str | None = None) -> dict[str, Any]:
    try:
        return verifier.verify(token, audience, issuer=issuer)
    except tokens.TokenError as exc:
        raise invalid_token(exc.code, str(exc)) from None


class VerifiedTokens:
    """Remembers tokens whose signature already checked out, until they expire.

    An Ed25519 check costs more than the rest of a small request, and a client sends the
    same access token on every call until it expires. The key is the whole token string,
    so a hit is exactly the token verified before; only the expiry is checked again, and a
    remembered token past it is verified afresh (and so refused). Bounded: the least
    recently used entries go first.
    """

    def __init__(self, verifier: tokens.Verifier, audience: str, issuer: str | None = None,
                 size: int = 10_000) -> None:
        self.verifier = verifier
        self.audience = audience
        self.issuer = issuer
        self.size = size
        self._claims: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._claims)

    def claims(self, token: str) -> dict[str, Any]:
        """The token's claims, or a 401 ``invalid-token`` :class:`Problem`."""
        found = self._claims.get(token)
        if found is not None:
            if float(found["exp"]) + tokens.LEEWAY_S >= time.time():
                self._claims.move_to_end(token)
                return found
            del self._claims[token]
        claims = verify(self.verifier, token, self.audience, self.issuer)
        self._claims[token] = claims
        if len(self._claims) > self.size:
            self._claims.popitem(last=False)
        return claims
