"""Who is calling: every butler route acts as the player whose access token it carries."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from butler.appkeys import SERVICES
from elysium import http


@dataclass(frozen=True)
class Player:
    id: str
    name: str
    token: str  # passed on to commerce and the matchmaker: the tools act as this player, never as the butler


def player(request: web.Request) -> Player:
    """The caller, from their access token (401 without a valid one)."""
    token = http.bearer(request)
    claims = request.app[SERVICES].tokens.claims(token)
    sub = str(claims.get("sub") or "")
    if not sub:
        raise http.invalid_token("claims", "the token names no player")
    return Player(sub, str(claims.get("name") or sub), token)
