"""The upstream reads of one GraphQL request, made with the caller's bearer token."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

from gateway.graphql import errors
from gateway.upstreams import Upstreams

log = logging.getLogger("gateway.graphql")

MAX_ANSWER_BYTES = 4 * 1024 * 1024
READ_TIMEOUT = aiohttp.ClientTimeout(total=10.0)


class Reads:
    """GETs on the services as the caller: their ``Authorization`` is forwarded, or none at all."""

    def __init__(self, upstreams: Upstreams, token: str | None) -> None:
        self.upstreams = upstreams
        self.token = token

    async def get(self, service: str, path: str, query: Mapping[str, str] | None = None, *,
                  anonymous: bool = False) -> Any:
        """The JSON body of a 2xx answer; a :class:`errors.GatewayError` for anything else."""
        headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
        if self.token is not None and not anonymous:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            async with self.upstreams.session.get(self.upstreams.url(service, path), params=query, headers=headers,
                                                  timeout=READ_TIMEOUT, allow_redirects=False) as resp:
                raw = await resp.content.read(MAX_ANSWER_BYTES + 1)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.warning("upstream read failed", extra={"service": service, "path": path[:200],
                                                       "error": str(exc)[:200]})
            raise errors.unavailable(service) from None
        if len(raw) > MAX_ANSWER_BYTES:
            raise errors.bad_upstream(service)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if not 200 <= status < 300:
            if status >= 500 and not isinstance(body, dict):
                raise errors.unavailable(service)
            raise errors.problem_error(status, body)
        if body is None:
            raise errors.bad_upstream(service)
        return body
