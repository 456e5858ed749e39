"""A player's butler settings: validated here (pure), stored one document per player in MongoDB.

The confirmation rule lives in :class:`butler.turns.Prefs`; this module's part is to refuse a
setting that would weaken it: ``auto_approve`` takes only the categories of
``turns.MAY_SKIP_ASKING``, and naming any money category answers 422 naming it, so no stored
document can ever hold one (and :meth:`PrefsStore.get` drops one that somehow got there).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from butler import turns
from elysium.problem import Problem

TONES = ("friendly", "formal", "concise", "playful")
MAX_PERSONA = 200
LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}")  # a short BCP 47 tag: en, pt-BR, zh-Hant-TW
FIELDS = ("persona", "tone", "language", "auto_approve", "daily_token_budget")


class PrefsInvalid(Problem):
    """422 ``invalid-settings`` with ``errors`` naming each bad field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(422, "invalid-settings", "The settings are not valid",
                         "; ".join(f"{k}: {v}" for k, v in errors.items()), errors=errors)


def defaults(default_budget: int) -> turns.Prefs:
    return turns.Prefs(daily_token_budget=default_budget)


def body(prefs: turns.Prefs) -> dict[str, Any]:
    """What ``GET /v1/butler/settings`` answers."""
    return {"persona": prefs.persona, "tone": prefs.tone, "language": prefs.language,
            "auto_approve": sorted(prefs.auto_approve), "daily_token_budget": prefs.daily_token_budget}


def merge(current: turns.Prefs, update: Any, max_budget: int) -> turns.Prefs:
    """``current`` with the fields ``update`` gives (a JSON object, any subset of :data:`FIELDS`).

    Raises :class:`PrefsInvalid` naming every bad field; nothing is changed then.
    """
    if not isinstance(update, dict):
        raise PrefsInvalid({"": "the body must be a JSON object"})
    errors: dict[str, str] = {}
    for key in update:
        if key not in FIELDS:
            errors[str(key)[:64]] = f"unknown setting; the settings are {', '.join(FIELDS)}"
    changes: dict[str, Any] = {}
    if "persona" in update:
        persona = update["persona"]
        if not isinstance(persona, str) or len(persona) > MAX_PERSONA:
            errors["persona"] = f"must be a string of at most {MAX_PERSONA} characters"
        elif any(ord(c) < 32 for c in persona):
            errors["persona"] = "must not hold control characters"
        else:
            changes["persona"] = persona.strip() or turns.Prefs().persona
    if "tone" in update:
        if update["tone"] not in TONES:
            errors["tone"] = f"must be one of {', '.join(TONES)}"
        else:
            changes["tone"] = update["tone"]
    if "language" in update:
        language = update["language"]
        if not isinstance(language, str) or not LANGUAGE.fullmatch(language):
            errors["language"] = "must be a short language tag such as en, fr or pt-BR"
        else:
            changes["language"] = language
    if "auto_approve" in update:
        problem, categories = _auto_approve(update["auto_approve"])
        if problem:
            errors["auto_approve"] = problem
        else:
            changes["auto_approve"] = categories
    if "daily_token_budget" in update:
        budget = update["daily_token_budget"]
        if not isinstance(budget, int) or isinstance(budget, bool) or not 0 <= budget <= max_budget:
            errors["daily_token_budget"] = f"must be a whole number from 0 to {max_budget}"
        else:
            changes["daily_token_budget"] = budget
    if errors:
        raise PrefsInvalid(errors)
    return replace(current, **changes)


def _auto_approve(value: Any) -> tuple[str, frozenset[str]]:
    allowed = ", ".join(turns.MAY_SKIP_ASKING)
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        return f"must be a list of categories from: {allowed}", frozenset()
    if len(set(value)) != len(value):
        return "must name each category once", frozenset()
    money = sorted({c for c in value if c in turns.ALWAYS_ASK})
    if money:
        return (f"{', '.join(money)} always asks for confirmation and cannot be auto-approved "
                f"(only {allowed} can)"), frozenset()
    unknown = sorted({c for c in value if c not in turns.MAY_SKIP_ASKING})
    if unknown:
        return f"{', '.join(u[:32] for u in unknown)} cannot be auto-approved (only {allowed} can)", frozenset()
    return "", frozenset(value)


class PrefsStore:
    """One document per player, ``_id`` the player id."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]], default_budget: int, max_budget: int) -> None:
        self.collection = collection
        self.default_budget = default_budget
        self.max_budget = max_budget

    async def get(self, player_id: str) -> turns.Prefs:
        doc = await self.collection.find_one({"_id": player_id})
        prefs = defaults(self.default_budget)
        if doc is None:
            return prefs
        return replace(prefs, persona=doc.get("persona", prefs.persona), tone=doc.get("tone", prefs.tone),
                       language=doc.get("language", prefs.language),
                       auto_approve=frozenset(c for c in doc.get("auto_approve", ()) if c in turns.MAY_SKIP_ASKING),
                       daily_token_budget=min(int(doc.get("daily_token_budget", prefs.daily_token_budget)),
                                              self.max_budget))

    async def update(self, player_id: str, update: Any) -> turns.Prefs:
        prefs = merge(await self.get(player_id), update, self.max_budget)
        fields = body(prefs)
        await self.collection.update_one({"_id": player_id}, {"$set": {**fields, "updated_at": datetime.now(UTC)}},
                                         upsert=True)
        return prefs
