"""Match ids: what the matchmaker makes and the other services read from a result.

A queued match's id is ``{queue mode}.{random}``. A custom game's (``docs/matchmaker.md``,
*Custom games*) is ``custom-{code}.{queue mode}.{24 hex}`` when it is unranked, and
``{queue mode}.custom-{code}.{24 hex}`` when it is ranked: a ranked game begins with its queue
mode as a queued match does, so it is rated like one, and an unranked game never does (codes
are upper case, so ``custom-{code}`` is no mode's name). The matchmaker records an unranked
game's match without rating it, and commerce pays no match rewards for it: its host may have
changed the rules (a one-second time limit, a score limit of one), so it must not be a way to
farm ranks or currency. Both shapes are at most 7 + 6 + 1 + 24 + 1 + 24 = 63 characters, under
the game server's 64 (``gameserver/joins.py``). Pure.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

_UNRANKED_ID = re.compile(r"custom-([A-Z0-9]{6})\.([a-z][a-z0-9-]{0,23})\.[0-9a-f]{24}")
_RANKED_ID = re.compile(r"([a-z][a-z0-9-]{0,23})\.custom-([A-Z0-9]{6})\.[0-9a-f]{24}")


@dataclass(frozen=True, slots=True)
class CustomMatch:
    code: str
    mode: str
    ranked: bool


def custom_match_id(code: str, mode: str, *, ranked: bool = False) -> str:
    """A started custom game's match id. A ranked game's begins with its queue mode's ``{mode}.``,
    so the results consumer rates it as it rates a queued match; an unranked game's never does
    (codes are upper case, so ``custom-{code}`` is no mode's name), so the consumer records it in
    the history without rating it."""
    random = secrets.token_hex(12)
    return f"{mode}.custom-{code}.{random}" if ranked else f"custom-{code}.{mode}.{random}"


def parse_custom_match_id(match_id: str) -> CustomMatch | None:
    """The game, queue mode and rankedness of a custom game's match id; None for any other id."""
    if found := _UNRANKED_ID.fullmatch(match_id):
        return CustomMatch(found.group(1), found.group(2), False)
    if found := _RANKED_ID.fullmatch(match_id):
        return CustomMatch(found.group(2), found.group(1), True)
    return None


def is_unranked_custom(match_id: str) -> bool:
    """Whether the match was an unranked custom game's (house rules: no rating, no rewards)."""
    parsed = parse_custom_match_id(match_id)
    return parsed is not None and not parsed.ranked
