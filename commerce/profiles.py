"""Public profiles: what anyone signed in may see of a player, and nothing private.

The account gives the display name, the avatar and when it was made; the matchmaker's
HTTP API (``docs/matchmaker.md``) gives the ratings per mode and the recent matches,
asked with the caller's own access token. A matchmaker that is unset, down, slow or
answers something unreadable does not fail the profile: those parts are null and named
in ``unavailable``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import quote

import aiohttp

from commerce.errors import Problem
from commerce.store import Store

log = logging.getLogger("commerce.profiles")

RECENT_MATCHES = 10
MAX_ANSWER_BYTES = 256 * 1024
RATING_FIELDS = ("mode", "season", "ordinal", "mu", "sigma", "matches", "wins")


class Matchmaker:
    """The two reads a profile makes of the matchmaker, each within ``timeout_s``."""

    def __init__(self, session: aiohttp.ClientSession | None, base_url: str, timeout_s: float) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def _get(self, path: str, token: str) -> Any:
        """The JSON body of a 200, or None (logged) when the matchmaker cannot give it."""
        if self.session is None or not self.base_url:
            return None
        try:
            async with self.session.get(self.base_url + path, headers={"Authorization": f"Bearer {token}"},
                                        timeout=self.timeout) as resp:
                if resp.status != 200:
                    log.warning("matchmaker refused a profile read", extra={"path": path, "status": resp.status})
                    return None
                raw = await resp.content.read(MAX_ANSWER_BYTES + 1)
                if len(raw) > MAX_ANSWER_BYTES:
                    raise ValueError("answer too large")
                return json.loads(raw)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("matchmaker unavailable for a profile read", extra={"path": path, "error": str(exc)[:200]})
            return None

    async def ratings(self, player: str, token: str) -> list[dict[str, Any]] | None:
        body = await self._get(f"/v1/players/{quote(player, safe='')}/ratings", token)
        rows = body.get("ratings") if isinstance(body, dict) else None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            return None
        return [{k: r.get(k) for k in RATING_FIELDS} for r in rows]

    async def recent_matches(self, player: str, token: str) -> list[dict[str, Any]] | None:
        body = await self._get(f"/v1/players/{quote(player, safe='')}/matches?limit={RECENT_MATCHES}", token)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list) or not all(isinstance(m, dict) for m in items):
            return None
        return items[:RECENT_MATCHES]


async def public_profile(store: Store, matchmaker: Matchmaker, player: str, token: str) -> dict[str, Any]:
    """The public profile of ``player``, read with the caller's ``token``."""
    doc = await store.accounts.find_one({"_id": player, "system": {"$ne": True}},
                                        {"display_name": 1, "username": 1, "avatar_url": 1, "created_at": 1})
    if doc is None:
        raise Problem("player-not-found", "there is no such player")
    ratings, matches = await asyncio.gather(matchmaker.ratings(player, token),
                                            matchmaker.recent_matches(player, token))
    return {"id": player, "display_name": str(doc.get("display_name") or doc.get("username")),
            "avatar_url": doc.get("avatar_url"), "created_at": doc["created_at"].isoformat(),
            "ratings": ratings, "recent_matches": matches,
            "unavailable": [name for name, part in (("ratings", ratings), ("recent_matches", matches))
                            if part is None]}
