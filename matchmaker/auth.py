"""PlayerAuth: checks player access tokens, remembering the ones it already verified.

An Ed25519 check costs a few hundred microseconds here, more than the rest of a ticket
request. A client sends the same access token on every call until it expires, so a
bounded cache of verified tokens (keyed by the whole token, so any change misses) saves
that work; a cached token still stops working at its expiry.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from elysium import tokens

CACHE_ENTRIES = 100_000


class PlayerAuth:
    def __init__(self, verifier: tokens.Verifier, max_entries: int = CACHE_ENTRIES) -> None:
        self.verifier = verifier
        self.max_entries = max_entries
        self.cache: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or :class:`tokens.TokenError`."""
        claims = self.cache.get(token)
        if claims is not None:
            if float(claims["exp"]) + tokens.LEEWAY_S >= time.time():
                self.cache.move_to_end(token)
                return claims
            del self.cache[token]
            raise tokens.TokenError("token_expired", "token has expired")
        claims = self.verifier.verify(token, tokens.PLAYER_AUDIENCE)
        self.cache[token] = claims
        if len(self.cache) > self.max_entries:
            self.cache.popitem(last=False)
        return claims
