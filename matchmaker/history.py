"""MatchHistory: reads the ``matches`` collection that :class:`RatingBook` writes (``records.py``)."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection


class MatchHistory:
    def __init__(self, matches: AsyncCollection[dict[str, Any]]) -> None:
        self.matches = matches

    async def get(self, match_id: str) -> dict[str, Any] | None:
        return await self.matches.find_one({"_id": match_id})

    async def of_player(self, player: str, limit: int, after: tuple[int, str] | None = None) -> list[dict[str, Any]]:
        """The player's matches, newest first (by end time, then match id), after ``after`` (exclusive)."""
        query: dict[str, Any] = {"player_ids": player}
        if after is not None:
            ended, match_id = after
            query["$or"] = [{"ended_at_us": {"$lt": ended}}, {"ended_at_us": ended, "_id": {"$lt": match_id}}]
        return await self.matches.find(query).sort([("ended_at_us", -1), ("_id", -1)]).limit(limit).to_list(None)
