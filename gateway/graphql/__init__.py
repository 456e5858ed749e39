"""The client's reads as GraphQL: ``POST /graphql`` (GraphiQL at ``GET /graphql`` when enabled).

:func:`graphql_routes` mounts it on the gateway's app. Resolvers read the services over HTTP
with the caller's bearer token (``docs/graphql.md``); writes stay on the REST APIs.
"""

from __future__ import annotations

import os
from typing import Any

from aiohttp import web
from cross_web import HTTPException  # strawberry's HTTP layer (a dependency of strawberry-graphql)
from strawberry.aiohttp.views import GraphQLView

from elysium.http import problem_response
from elysium.problem import Problem
from gateway.appkeys import GATEWAY
from gateway.graphql.context import Context
from gateway.graphql.loaders import Loaders
from gateway.graphql.reads import Reads
from gateway.graphql.schema import schema
from gateway.upstreams import Upstreams

GRAPHIQL_VARIABLE = "ELYSIUM_GATEWAY_GRAPHIQL"
PATH = "/graphql"


def _token(request: web.Request) -> str | None:
    """The caller's bearer token; None without ``Authorization``; 401 for any other scheme."""
    raw = request.headers.get("Authorization")
    if raw is None:
        return None
    scheme, _, token = raw.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Problem(401, "unauthorized", detail="send Authorization: Bearer <access token>, or no Authorization")
    return token


class ReadsView(GraphQLView[Context, None]):
    """Strawberry's aiohttp view, with the request's context and problem+json for refusals of HTTP."""

    def __init__(self, upstreams: Upstreams, *, graphiql: bool) -> None:
        super().__init__(schema=schema, graphql_ide="graphiql" if graphiql else None, allow_queries_via_get=False,
                         multipart_uploads_enabled=False)
        self.upstreams = upstreams

    async def get_context(self, request: web.Request, response: Any) -> Context:
        reads = Reads(self.upstreams, _token(request))
        return Context(reads=reads, loaders=Loaders(reads))

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self.run(request=request)
        except HTTPException as exc:
            code = {400: "invalid-request", 404: "not-found", 405: "method-not-allowed",
                    415: "unsupported-media-type"}.get(exc.status_code, "http-error")
            return problem_response(Problem(exc.status_code, code, detail=exc.reason), request)
        except Problem as exc:
            return problem_response(exc, request)


def graphql_routes(app: web.Application, upstreams: Upstreams, *, graphiql: bool | None = None) -> None:
    """Add ``POST /graphql`` to ``app``, and ``GET /graphql``: the GraphiQL page when ``graphiql`` (by
    default the gateway's ``ELYSIUM_GATEWAY_GRAPHIQL``), else a 405 problem."""
    if graphiql is None:
        gateway = app.get(GATEWAY)
        graphiql = gateway.settings.graphiql if gateway is not None else os.environ.get(GRAPHIQL_VARIABLE) == "1"
    view = ReadsView(upstreams, graphiql=graphiql)
    app.router.add_route("POST", PATH, view)
    app.router.add_route("GET", PATH, view if graphiql else _post_only)


async def _post_only(request: web.Request) -> web.Response:
    raise Problem(405, "method-not-allowed", detail="send queries as POST /graphql with a JSON body {query, variables}",
                  headers={"Allow": "POST"})


__all__ = ["graphql_routes", "schema"]
