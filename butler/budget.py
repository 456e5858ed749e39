"""Model tokens used per player per UTC day, recorded in MongoDB, and the check before a turn.

One document per player and day (``_id`` ``"<player>:<YYYY-MM-DD>"``), grown with one atomic
``$inc`` upsert after each turn from the usage its ``done`` or ``error`` event carries, so two
replicas recording at once both count. The check reads it before the model is called: a
player at or past their budget gets ``429 token-budget-spent`` with ``Retry-After`` to the next
UTC midnight. A turn in flight may overrun the budget by its own size; the next one is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from elysium.problem import Problem


def utc_now() -> datetime:
    return datetime.now(UTC)


def seconds_to_next_day(now: datetime) -> int:
    """Whole seconds from ``now`` to the next UTC midnight (at least 1)."""
    now = now.astimezone(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((midnight - now).total_seconds() + 0.999))


class Budget:
    def __init__(self, collection: AsyncCollection[dict[str, Any]], clock: Callable[[], datetime] = utc_now) -> None:
        self.collection = collection
        self.clock = clock

    def _key(self, player_id: str) -> tuple[str, str]:
        day = self.clock().astimezone(UTC).strftime("%Y-%m-%d")
        return f"{player_id}:{day}", day

    async def used(self, player_id: str) -> int:
        key, _ = self._key(player_id)
        doc = await self.collection.find_one({"_id": key})
        return int(doc["tokens"]) if doc else 0

    async def record(self, player_id: str, tokens: int) -> None:
        if tokens <= 0:
            return
        key, day = self._key(player_id)
        await self.collection.update_one({"_id": key}, {"$inc": {"tokens": tokens},
                                                        "$setOnInsert": {"player_id": player_id, "day": day}},
                                         upsert=True)

    async def check(self, player_id: str, daily_budget: int) -> None:
        """Raise ``429 token-budget-spent`` when ``player_id`` has used ``daily_budget`` tokens today."""
        used = await self.used(player_id)
        if used >= daily_budget:
            wait = seconds_to_next_day(self.clock())
            raise Problem(429, "token-budget-spent", "The daily token budget is spent",
                          f"today's {daily_budget} tokens are used ({used}); the budget renews at 00:00 UTC, "
                          f"in {wait} s", headers={"Retry-After": str(wait)}, used=used, budget=daily_budget)
