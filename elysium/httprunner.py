"""aiohttp's connection layer, answering what fails before any middleware in problem+json.

A malformed request line or header, a header line past 8190 bytes or more than 128
headers never reach a handler or the edge middleware (:mod:`elysium.http`): aiohttp's
``RequestHandler.handle_error`` answers them itself, in plain text. :class:`AppRunner`
is ``web.AppRunner`` with that one method replaced, so those answers are
``application/problem+json`` like every other refusal: 431 ``headers-too-large`` for a
head past the limits, 400 ``bad-request`` for anything else that is not HTTP/1.1, 500
``internal`` (logged) should something escape the middleware. aiohttp offers no hook for
this (aio-libs/aiohttp#3287); the runner builds its server from the arguments aiohttp's
own would have, and ``tests/elysium/test_http_hardening.py`` breaks if that changes.
"""

from __future__ import annotations

import logging

from aiohttp import web, web_protocol
from aiohttp.http_exceptions import LineTooLong

from elysium.problem import CONTENT_TYPE, Problem, shared

__all__ = ["AppRunner", "ProblemRequestHandler"]

log = logging.getLogger("elysium.http")


def low_level_problem(status: int, exc: BaseException | None, message: str | None) -> Problem:
    """The problem for an error aiohttp's connection layer answers itself."""
    said = (message or "").strip()
    if isinstance(exc, LineTooLong) or said == "Too many headers received":
        return shared("headers-too-large", "a header line is longer than 8190 bytes, or there are more than "
                                           "128 headers")
    if status == 500:
        return shared("internal", "something went wrong on our side")
    if status >= 500:
        return shared("http-error", "the request could not be answered", status=status)
    return shared("bad-request", f"the request is not valid HTTP/1.1: {said[:200]}" if said else
                  "the request is not valid HTTP/1.1")


class ProblemRequestHandler(web_protocol.RequestHandler):
    """aiohttp's per-connection protocol, with problem+json answers for its own errors."""

    __slots__ = ()

    def handle_error(self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if request.writer.output_size > 0:  # as aiohttp's own: part of an answer is out, the connection is broken
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        if status >= 500:
            log.error("error outside the edge middleware", exc_info=exc)
        else:
            log.info("malformed request", extra={"status": status, "error": (message or "")[:200],
                                                  "remote": request.remote})
        problem = low_level_problem(status, exc, message)
        response = web.Response(status=problem.status, body=problem.encode(), content_type=CONTENT_TYPE)
        response.force_close()
        return response


class _ProblemServer(web.Server):
    def __call__(self) -> web_protocol.RequestHandler:
        return ProblemRequestHandler(self, loop=self._loop, **self._kwargs)


class AppRunner(web.AppRunner):
    """``web.AppRunner`` whose connections answer aiohttp's own refusals in problem+json."""

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()
        return _ProblemServer(made.request_handler, request_factory=made.request_factory,
                              handler_cancellation=made.handler_cancellation, **made._kwargs)
