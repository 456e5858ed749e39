"""The butler's HTTP client for commerce and the matchmaker: their public APIs, as the player.

Every call carries the player's own access token, so a tool can do exactly what the player could
do in the app and nothing more. Answers are decoded here once: a problem+json answer becomes a
:class:`ToolError` with the service's own problem code (``insufficient-funds``,
``listing-sold``...), a service that does not answer within the deadline (or cannot be reached)
``ToolError("unavailable")``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from butler.toolspecs import ToolError

MAX_ANSWER_BYTES = 1 << 20  # more than any page the tools ask for


class Api:
    """One service's ``/v1`` API at ``base_url``."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, name: str, timeout_s: float) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def call(self, method: str, path: str, token: str, *, params: dict[str, str] | None = None,
                   body: dict[str, Any] | None = None, idempotency_key: str | None = None) -> dict[str, Any]:
        """The JSON object the service answered, or :class:`ToolError`."""
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        try:
            async with self.session.request(method, self.base_url + path, params=params, json=body, headers=headers,
                                            timeout=self.timeout) as resp:
                if (resp.content_length or 0) > MAX_ANSWER_BYTES:
                    raise ToolError("unavailable", f"{self.name} gave an answer too large to read")
                raw = await resp.read()
                status = resp.status
        except (TimeoutError, asyncio.TimeoutError, aiohttp.ClientError, OSError):
            raise ToolError("unavailable", f"{self.name} did not answer in time; nothing was done") from None
        try:
            answer = json.loads(raw) if raw else {}
        except ValueError:
            answer = None
        if status >= 400:
            raise _problem(self.name, status, answer)
        if not isinstance(answer, dict) or len(raw) > MAX_ANSWER_BYTES:
            raise ToolError("unavailable", f"{self.name} gave an answer that could not be read")
        return answer


def _problem(service: str, status: int, answer: object) -> ToolError:
    """A problem+json answer as a :class:`ToolError` keeping the service's code and detail."""
    if isinstance(answer, dict) and isinstance(answer.get("code"), str):
        detail = answer.get("detail") or answer.get("title") or ""
        errors = answer.get("errors")
        if isinstance(errors, dict) and errors:
            detail = f"{detail} ({'; '.join(f'{k}: {v}' for k, v in list(errors.items())[:5])})"
        return ToolError(answer["code"][:64], str(detail)[:300])
    if status >= 500:
        return ToolError("unavailable", f"{service} could not do it just now (status {status}); nothing was done")
    return ToolError("refused", f"{service} refused it (status {status})")
