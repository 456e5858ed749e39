"""Conversations, one MongoDB document each, bound to their player and bounded in size.

A document holds two views of the same talk:

* ``entries``: what the player saw, in order (``GET /v1/conversations/{id}``): ``user`` and
  ``assistant`` text, ``tool`` activity, ``proposal``\\ s, ``confirmation`` outcomes, ``error``\\ s;
* ``history``: the chat-completions messages a model engine reads on the next turn.

Both are capped with ``$push``/``$slice`` in the same single-document update, so a turn's
messages land together or not at all, and no conversation grows without end. Cutting the
oldest messages could leave a ``tool`` message whose assistant ``tool_calls`` went first (a
request the provider refuses), so :func:`trim_history` starts the history at a user message.
A player keeps at most ``max_conversations``: creating one more deletes the oldest.

Ids are time-ordered (milliseconds, then randomness), so ``_id`` order is creation order and
the newest-first listing pages with an ``_id`` cursor.
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

ID = re.compile(r"[0-9a-f]{24}")
TITLE_CHARS = 80
MAX_PROPOSALS = 100  # proposal ids remembered per conversation, to record their confirmations


def new_id() -> str:
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(6)}"


def trim_history(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``history`` from its first user message on: what a capped history may safely be sent as."""
    for i, message in enumerate(history):
        if message.get("role") == "user":
            return history[i:]
    return []


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], "title": doc.get("title", ""), "created_at": _iso(doc["created_at"]),
            "updated_at": _iso(doc["updated_at"]), "messages": int(doc.get("count", 0))}


def detail(doc: dict[str, Any]) -> dict[str, Any]:
    return {**summary(doc), "entries": list(doc.get("entries", []))}


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Conversations:
    def __init__(self, collection: AsyncCollection[dict[str, Any]], *, max_entries: int, max_conversations: int
                 ) -> None:
        self.collection = collection
        self.max_entries = max_entries
        self.max_history = max_entries  # chat-completions messages kept, besides the entries
        self.max_conversations = max_conversations

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("player_id", 1), ("_id", DESCENDING)])
        await self.collection.create_index([("player_id", 1), ("proposals", 1)])

    async def create(self, player_id: str, first_message: str) -> dict[str, Any]:
        now = datetime.now(UTC)
        doc: dict[str, Any] = {"_id": new_id(), "player_id": player_id, "title": " ".join(first_message.split())[
            :TITLE_CHARS], "created_at": now, "updated_at": now, "count": 0, "entries": [], "history": [],
                               "proposals": []}
        await self.collection.insert_one(doc)
        await self._keep_newest(player_id)
        return doc

    async def _keep_newest(self, player_id: str) -> None:
        old = [d["_id"] async for d in self.collection.find({"player_id": player_id}, {"_id": 1})
               .sort("_id", DESCENDING).skip(self.max_conversations)]
        if old:
            await self.collection.delete_many({"player_id": player_id, "_id": {"$in": old}})

    async def get(self, player_id: str, conversation_id: str) -> dict[str, Any] | None:
        """The conversation, or None when it does not exist or is another player's (the same to the caller)."""
        if not ID.fullmatch(conversation_id):
            return None
        return await self.collection.find_one({"_id": conversation_id, "player_id": player_id})

    async def page(self, player_id: str, limit: int, before: str | None = None
                   ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first: up to ``limit`` summaries older than the cursor ``before``, and the next cursor."""
        query: dict[str, Any] = {"player_id": player_id}
        if before is not None:
            query["_id"] = {"$lt": before}
        docs = [d async for d in self.collection.find(query, {"entries": 0, "history": 0, "proposals": 0})
                .sort("_id", DESCENDING).limit(limit + 1)]
        more = len(docs) > limit
        docs = docs[:limit]
        return [summary(d) for d in docs], docs[-1]["_id"] if more else None

    async def delete(self, player_id: str, conversation_id: str) -> bool:
        if not ID.fullmatch(conversation_id):
            return False
        result = await self.collection.delete_one({"_id": conversation_id, "player_id": player_id})
        return result.deleted_count == 1

    async def append(self, player_id: str, conversation_id: str, entries: list[dict[str, Any]],
                     history: list[dict[str, Any]], proposals: list[str]) -> bool:
        """Add one turn's entries, chat-completions messages and proposal ids together; False if it is gone."""
        push: dict[str, Any] = {"entries": {"$each": entries, "$slice": -self.max_entries},
                                "history": {"$each": history, "$slice": -self.max_history}}
        if proposals:
            push["proposals"] = {"$each": proposals, "$slice": -MAX_PROPOSALS}
        result = await self.collection.update_one(
            {"_id": conversation_id, "player_id": player_id},
            {"$push": push, "$set": {"updated_at": datetime.now(UTC)}, "$inc": {"count": len(entries)}})
        return result.matched_count == 1

    async def record_confirmation(self, player_id: str, proposal_id: str, entry: dict[str, Any],
                                  note: dict[str, Any]) -> bool:
        """Add a confirmation's outcome to the conversation that proposed it (if it still exists)."""
        result = await self.collection.update_one(
            {"player_id": player_id, "proposals": proposal_id},
            {"$push": {"entries": {"$each": [entry], "$slice": -self.max_entries},
                       "history": {"$each": [note], "$slice": -self.max_history}},
             "$set": {"updated_at": datetime.now(UTC)}, "$inc": {"count": 1}})
        return result.matched_count == 1
