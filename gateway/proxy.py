"""The reverse proxy: one request of the browser passed to one service, and its answer passed back.

* HTTP, any method: the request body streams to the service (bounded: past ``max_body_bytes`` the
  answer is 413 and the service sees the request cut short), the answer streams back as the
  service writes it (server-sent events arrive event by event; nothing is buffered or
  decompressed on the way). Hop-by-hop headers are dropped both ways; ``X-Forwarded-For``,
  ``-Proto`` and ``-Host`` are added, and the request id is passed on.
* Websockets: both directions, text and binary, the close code and reason passed through.
* A service that cannot be reached answers 502 ``upstream-unavailable``; one that does not begin
  its answer within ``response_timeout_s`` answers 504 ``upstream-timeout``. Either way the
  gateway itself says so, in problem+json.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from elysium import http
from elysium.problem import Problem

log = logging.getLogger("gateway.proxy")

# RFC 9110 7.6.1, and the headers aiohttp sets itself for the next hop.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
                        "te", "trailer", "trailers", "transfer-encoding", "upgrade", "host", "content-length"})
WEBSOCKET_HANDSHAKE = frozenset({"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions",
                                 "sec-websocket-accept", "sec-websocket-protocol"})
MAX_WS_MESSAGE_BYTES = 4 * 1024 ** 2
CHUNK_BYTES = 64 * 1024
# Close codes a peer may not send in a close frame (RFC 6455 7.4.1): what the other side gets instead.
UNSENDABLE_CLOSE = {1005: WSCloseCode.OK, 1006: WSCloseCode.INTERNAL_ERROR, 1015: WSCloseCode.INTERNAL_ERROR}


def upstream_unavailable(service: str, why: str) -> Problem:
    return Problem(502, "upstream-unavailable", "A service behind the gateway is unavailable",
                   f"{service} is unreachable ({why}); retry shortly", headers={"Retry-After": "1"}, service=service)


def upstream_timeout(service: str, seconds: float) -> Problem:
    return Problem(504, "upstream-timeout", "A service behind the gateway did not answer in time",
                   f"{service} did not begin its answer within {seconds:g} s", service=service)


def body_too_large(limit: int) -> Problem:
    return Problem(413, "body-too-large", "The body is too large",
                   f"the request body is over the gateway's limit of {limit} bytes")


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int
    response_timeout_s: float
    idle_timeout_s: float
    connect_timeout_s: float = 5.0  # to connect, or to wait for a free connection of the bounded pool


def _connection_tokens(headers: CIMultiDictProxy[str]) -> set[str]:
    """Header names the ``Connection`` header marks as hop-by-hop."""
    return {t.strip().lower() for value in headers.getall("Connection", []) for t in value.split(",")}


def _kept(headers: CIMultiDictProxy[str], drop: Iterable[str] = ()) -> CIMultiDict[str]:
    dropped = HOP_BY_HOP | _connection_tokens(headers) | set(drop)
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in dropped)


def forward_headers(request: web.Request, *, websocket: bool = False) -> CIMultiDict[str]:
    """The headers the service gets: the browser's, less hop-by-hop ones, plus the forwarding headers."""
    out = _kept(request.headers, WEBSOCKET_HANDSHAKE if websocket else ())
    peer = request.remote or ""
    before = request.headers.get("X-Forwarded-For")
    out["X-Forwarded-For"] = f"{before}, {peer}" if before else peer
    out["X-Forwarded-Proto"] = request.headers.get("X-Forwarded-Proto") or request.scheme
    out["X-Forwarded-Host"] = request.headers.get("X-Forwarded-Host") or request.host
    request_id = request.get(http.REQUEST_ID_KEY)
    if request_id:
        out[http.REQUEST_ID_HEADER] = request_id
    return out


def is_websocket(request: web.Request) -> bool:
    return request.method == "GET" and request.headers.get("Upgrade", "").lower() == "websocket" \
        and "upgrade" in _connection_tokens(request.headers)


class _BodyTooLarge(Exception):
    pass


async def _body(request: web.Request, limit: int) -> AsyncIterator[bytes]:
    sent = 0
    async for chunk in request.content.iter_chunked(CHUNK_BYTES):
        sent += len(chunk)
        if sent > limit:
            raise _BodyTooLarge
        yield chunk


def _has_body(request: web.Request) -> bool:
    return request.body_exists


async def proxy_http(request: web.Request, session: aiohttp.ClientSession, service: str, url: str | URL,
                     limits: Limits) -> web.StreamResponse:
    """Pass ``request`` to ``url`` (the service's full URL, query included) and stream the answer back."""
    length = request.content_length
    if length is not None and length > limits.max_body_bytes:
        raise body_too_large(limits.max_body_bytes)
    headers = forward_headers(request)
    if length is not None:
        headers["Content-Length"] = str(length)
    data = _body(request, limits.max_body_bytes) if _has_body(request) else None
    timeout = aiohttp.ClientTimeout(total=None, connect=limits.connect_timeout_s, sock_read=limits.idle_timeout_s)
    try:
        async with asyncio.timeout(limits.response_timeout_s):
            upstream = await session.request(
                request.method, url, headers=headers, data=data, allow_redirects=False, timeout=timeout,
                auto_decompress=False, skip_auto_headers=("User-Agent", "Accept-Encoding"))
    except _BodyTooLarge:
        raise body_too_large(limits.max_body_bytes) from None
    except aiohttp.ConnectionTimeoutError:  # no connection (or none free) within the connect deadline
        raise upstream_unavailable(service, "no connection could be made in time") from None
    except TimeoutError:
        raise upstream_timeout(service, limits.response_timeout_s) from None
    except aiohttp.ClientError as exc:
        if isinstance(exc.__cause__, _BodyTooLarge) or isinstance(exc.__context__, _BodyTooLarge):
            raise body_too_large(limits.max_body_bytes) from None
        raise upstream_unavailable(service, _reason(exc)) from None
    try:
        response = http.stream_response(request)
        response.set_status(upstream.status, upstream.reason)
        response.headers.extend(_kept(upstream.headers, ("x-request-id",)))
        if upstream.headers.get("Content-Length", "").isdigit():  # the bytes pass as they are, so it holds
            response.content_length = int(upstream.headers["Content-Length"])
        await response.prepare(request)
        if request.method != "HEAD":
            try:
                async for chunk in upstream.content.iter_any():
                    try:
                        await response.write(chunk)
                    except ConnectionResetError:  # the browser went away: so does the service's stream
                        upstream.close()
                        return response
            except (aiohttp.ClientError, TimeoutError) as exc:
                # the answer has begun: the browser sees the stream end early, as the service left it
                log.info("upstream stream ended early", extra={"service": service, "error": _reason(exc)})
                upstream.close()
                if request.transport is not None:
                    request.transport.close()
                return response
        await response.write_eof()
        return response
    except BaseException:
        upstream.close()
        raise
    finally:
        upstream.release()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "connection refused" if isinstance(exc.os_error, ConnectionRefusedError) else \
            (exc.os_error.strerror or type(exc.os_error).__name__).lower()
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "it closed the connection"
    if isinstance(exc, TimeoutError):
        return "it stopped sending"
    return type(exc).__name__


def _close_code(code: int | None) -> int:
    if code is None:
        return WSCloseCode.OK
    return UNSENDABLE_CLOSE.get(code, code) if 1000 <= code < 5000 else WSCloseCode.INTERNAL_ERROR


async def proxy_websocket(request: web.Request, session: aiohttp.ClientSession, service: str, url: str,
                          limits: Limits) -> web.StreamResponse:
    """Connect to the service's websocket first (so a refusal reaches the browser as its HTTP answer),
    then accept the browser's and pass messages both ways until one side closes."""
    protocols = tuple(p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip())
    try:
        async with asyncio.timeout(limits.response_timeout_s):
            upstream = await session.ws_connect(url, headers=forward_headers(request, websocket=True),
                                                protocols=protocols, max_msg_size=MAX_WS_MESSAGE_BYTES,
                                                autoclose=False, autoping=True)
    except aiohttp.ConnectionTimeoutError:
        raise upstream_unavailable(service, "no connection could be made in time") from None
    except TimeoutError:
        raise upstream_timeout(service, limits.response_timeout_s) from None
    except aiohttp.WSServerHandshakeError as exc:
        raise Problem(exc.status if exc.status >= 400 else 502, "upstream-refused",
                      "The service refused the websocket", f"{service} answered {exc.status} to the websocket",
                      service=service) from None
    except aiohttp.ClientError as exc:
        raise upstream_unavailable(service, _reason(exc)) from None
    browser = web.WebSocketResponse(protocols=(upstream.protocol,) if upstream.protocol else (),
                                    max_msg_size=MAX_WS_MESSAGE_BYTES, autoclose=False, autoping=True)
    try:
        await browser.prepare(request)
        await _pump_both(browser, upstream)
    finally:
        if not upstream.closed:
            await upstream.close()
        if not browser.closed:
            await browser.close()
    return browser


async def _pump_both(browser: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    """Until one side closes; then the other is closed with the same code and reason, and the first answered."""
    to_upstream = asyncio.ensure_future(_pump(browser, upstream))
    to_browser = asyncio.ensure_future(_pump(upstream, browser))
    pumps: dict[asyncio.Future[tuple[int, str]], tuple[_Socket, _Socket]] = {
        to_upstream: (browser, upstream), to_browser: (upstream, browser)}
    try:
        done, _ = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in pumps:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    first = done.pop()
    source, sink = pumps[first]
    try:
        code, reason = first.result()
    except Exception:  # sending to the sink failed: it is gone
        code, reason = WSCloseCode.INTERNAL_ERROR, ""
        source, sink = sink, source
    with contextlib.suppress(Exception):
        await sink.close(code=code, message=reason.encode()[:123])
    with contextlib.suppress(Exception):
        await source.close(code=code, message=reason.encode()[:123])


_Socket = web.WebSocketResponse | aiohttp.ClientWebSocketResponse


async def _pump(source: _Socket, sink: _Socket) -> tuple[int, str]:
    """Copy messages from ``source`` to ``sink`` until ``source`` closes; the close code and reason to pass on."""
    while True:
        msg = await source.receive()
        if msg.type == WSMsgType.TEXT:
            await sink.send_str(msg.data)
        elif msg.type == WSMsgType.BINARY:
            await sink.send_bytes(msg.data)
        elif msg.type == WSMsgType.CLOSE:
            return _close_code(msg.data), msg.extra or ""
        elif msg.type in (WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return _close_code(source.close_code or 1006), ""
