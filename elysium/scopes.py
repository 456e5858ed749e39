"""The scopes of service tokens, and the one check every admin route makes. Pure: no I/O.

A service token (audience ``elysium:service``, ``docs/tokens.md``) carries ``scope``, a
space-separated list. Each service's admin routes need their own scope; the operator
console's token (``elysium commerce admin-token``, by default) carries all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from elysium.problem import Problem, shared

COMMERCE_ADMIN = "commerce:admin"  # commerce's whole /v1/admin API
COMMERCE_MODERATION = "commerce:moderation"  # only its moderation routes
MATCHMAKER_ADMIN = "matchmaker:admin"  # the matchmaker's /v1/admin (game servers, queues)
GAMESERVER_ADMIN = "gameserver:admin"  # a game server's /v1/admin (rooms, kicks)
# What the operator console needs on every service.
CONSOLE = (COMMERCE_ADMIN, MATCHMAKER_ADMIN, GAMESERVER_ADMIN)


def scopes_of(claims: Mapping[str, Any]) -> frozenset[str]:
    scope = claims.get("scope")
    return frozenset(scope.split()) if isinstance(scope, str) else frozenset()


def require(claims: Mapping[str, Any], scope: str) -> None:
    """Refuse (403 ``forbidden``) a service token that lacks ``scope``."""
    if scope not in scopes_of(claims):
        raise shared("forbidden", f"the service token lacks the {scope} scope")


def admin_disabled(variable: str = "ELYSIUM_SERVICE_PUBLIC_KEY_FILE") -> Problem:
    """403 ``admin-disabled``: the service has no key to verify service tokens with."""
    return Problem(403, "admin-disabled", "The admin API is not configured", f"set {variable} to enable the admin API")
