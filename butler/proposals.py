"""Proposals: actions planned to exact terms, waiting for the player's confirmation (MongoDB).

A proposal is single use, short-lived and bound to its player. Taking one is one conditional
``find_one_and_update`` from ``open`` to ``used`` whose filter holds the id, the player and the
expiry: of any number of concurrent takes exactly one matches, another player's id matches
nothing (and is told ``proposal-not-found``, as for an id that never existed, so ids reveal
nothing), and an expired one cannot be taken. A TTL index on ``purge_at`` lets MongoDB delete
old proposals; until it does, an expired one answers ``proposal-expired``.

Documents: ``{_id, player, state: "open" | "used", plan: {tool, category, terms, summary},
created_at, expires_at, purge_at, used_at?}``. Every operation has a deadline (the client's
``timeoutMS``; the caller builds the client with it and ``retryWrites=false``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from butler.tools import Plan

OPEN = "open"
USED = "used"
KEEP_AFTER_EXPIRY = timedelta(hours=1)  # an expired proposal still answers "expired" this long


def utc_now() -> datetime:
    return datetime.now(UTC)


class ProposalError(Exception):
    """``proposal-not-found``, ``proposal-expired`` or ``proposal-used``."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Proposal:
    id: str
    player_id: str
    plan: Plan
    created_at: datetime
    expires_at: datetime

    def body(self) -> dict[str, Any]:
        """The PROPOSAL event's data."""
        return {"id": self.id, "tool": self.plan.tool, "category": self.plan.category, "terms": self.plan.terms,
                "summary": self.plan.summary, "expires_at": self.expires_at.isoformat()}


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # BSON dates come back naive, in UTC


def _ms(at: datetime) -> datetime:
    return at.replace(microsecond=at.microsecond // 1000 * 1000)  # what BSON keeps


def _proposal(doc: dict[str, Any]) -> Proposal:
    plan = doc["plan"]
    return Proposal(doc["_id"], doc["player"], Plan(plan["tool"], plan["category"], plan["terms"], plan["summary"]),
                    _aware(doc["created_at"]), _aware(doc["expires_at"]))


class Proposals:
    """The proposals collection."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]], *, ttl_s: float = 300.0,
                 clock: Callable[[], datetime] = utc_now) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self.collection = collection
        self.ttl = timedelta(seconds=ttl_s)
        self.clock = clock

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("purge_at", ASCENDING)], expireAfterSeconds=0, name="purge")
        await self.collection.create_index([("player", ASCENDING), ("created_at", ASCENDING)], name="player")

    async def create(self, player_id: str, plan: Plan) -> Proposal:
        now = _ms(self.clock())
        proposal = Proposal("prop_" + secrets.token_hex(16), player_id, plan, now, now + self.ttl)
        await self.collection.insert_one({
            "_id": proposal.id, "player": player_id, "state": OPEN,
            "plan": {"tool": plan.tool, "category": plan.category, "terms": plan.terms, "summary": plan.summary},
            "created_at": now, "expires_at": proposal.expires_at, "purge_at": proposal.expires_at + KEEP_AFTER_EXPIRY})
        return proposal

    async def take(self, player_id: str, proposal_id: str) -> Proposal:
        """Mark the player's open, unexpired proposal used and return it; exactly one take wins."""
        now = self.clock()
        doc = await self.collection.find_one_and_update(
            {"_id": proposal_id, "player": player_id, "state": OPEN, "expires_at": {"$gt": now}},
            {"$set": {"state": USED, "used_at": now}}, return_document=ReturnDocument.AFTER)
        if doc is not None:
            return _proposal(doc)
        found = await self.collection.find_one({"_id": proposal_id, "player": player_id})
        if found is None:
            raise ProposalError("proposal-not-found", "there is no such proposal of yours")
        if found["state"] != OPEN:
            raise ProposalError("proposal-used", "this proposal was already confirmed")
        raise ProposalError("proposal-expired", "this proposal has expired; ask again for fresh terms")

    async def release(self, player_id: str, proposal_id: str) -> None:
        """Open a taken proposal again after a failure that performed nothing (it keeps its expiry)."""
        await self.collection.update_one({"_id": proposal_id, "player": player_id, "state": USED},
                                         {"$set": {"state": OPEN}, "$unset": {"used_at": ""}})
