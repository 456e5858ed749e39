"""Proposals on the embedded MongoDB: single use (a race of twenty takes has one winner), short-lived,
bound to their player."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from butler.proposals import Proposal, ProposalError, Proposals
from butler.tools import Plan
from butler.turns import SPEND

PLAN = Plan("buy_listing", SPEND, {"listing_id": "a" * 32, "price": 70, "currency": "soft", "total": 70},
            "Buy listing aaaa for 70 soft in total.")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def collection(mongo_url: str, mongo_db_name: str) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, retryWrites=False, timeoutMS=5000,
                                                                serverSelectionTimeoutMS=5000)
    yield client[mongo_db_name]["proposals"]
    await client.close()


@pytest.fixture
async def clock() -> Clock:
    return Clock()


@pytest.fixture
async def proposals(collection: Any, clock: Clock) -> Proposals:
    store = Proposals(collection, ttl_s=300, clock=clock)
    await store.ensure_indexes()
    return store


async def code_of(proposals: Proposals, player: str, pid: str) -> str:
    with pytest.raises(ProposalError) as caught:
        await proposals.take(player, pid)
    return caught.value.code


async def test_a_proposal_is_taken_once_with_its_plan(proposals: Proposals, clock: Clock) -> None:
    made = await proposals.create("p1", PLAN)
    assert made.expires_at == clock.now + timedelta(seconds=300)
    body = made.body()
    assert body == {"id": made.id, "tool": "buy_listing", "category": SPEND, "terms": PLAN.terms,
                    "summary": PLAN.summary, "expires_at": made.expires_at.isoformat()}
    taken = await proposals.take("p1", made.id)
    assert taken == Proposal(made.id, "p1", PLAN, made.created_at, made.expires_at)
    assert await code_of(proposals, "p1", made.id) == "proposal-used"


async def test_another_players_id_is_not_found_and_changes_nothing(proposals: Proposals) -> None:
    made = await proposals.create("p1", PLAN)
    assert await code_of(proposals, "p2", made.id) == "proposal-not-found"
    assert await code_of(proposals, "p1", "prop_" + "0" * 32) == "proposal-not-found"
    assert (await proposals.take("p1", made.id)).id == made.id  # still open for its own player
    assert await code_of(proposals, "p2", made.id) == "proposal-not-found"  # and used tells p2 nothing either


async def test_an_expired_proposal_cannot_be_taken(proposals: Proposals, clock: Clock) -> None:
    made = await proposals.create("p1", PLAN)
    clock.now += timedelta(seconds=299)
    kept = await proposals.create("p1", PLAN)
    clock.now += timedelta(seconds=1)
    assert await code_of(proposals, "p1", made.id) == "proposal-expired"
    assert (await proposals.take("p1", kept.id)).id == kept.id


async def test_twenty_concurrent_takes_have_exactly_one_winner(proposals: Proposals) -> None:
    made = await proposals.create("p1", PLAN)
    outcomes = await asyncio.gather(*(proposals.take("p1", made.id) for _ in range(20)), return_exceptions=True)
    wins = [o for o in outcomes if isinstance(o, Proposal)]
    losses = [o for o in outcomes if isinstance(o, ProposalError)]
    assert len(wins) == 1 and len(losses) == 19
    assert {e.code for e in losses} == {"proposal-used"}


async def test_release_opens_a_taken_proposal_again_for_its_player_only(proposals: Proposals) -> None:
    made = await proposals.create("p1", PLAN)
    await proposals.take("p1", made.id)
    await proposals.release("p2", made.id)  # not theirs: nothing changes
    assert await code_of(proposals, "p1", made.id) == "proposal-used"
    await proposals.release("p1", made.id)
    assert (await proposals.take("p1", made.id)).plan == PLAN


async def test_old_proposals_are_purged_by_a_ttl_index(proposals: Proposals, collection: Any) -> None:
    indexes = {ix["name"]: ix async for ix in await collection.list_indexes()}
    assert indexes["purge"]["key"] == {"purge_at": 1} and indexes["purge"]["expireAfterSeconds"] == 0
    made = await proposals.create("p1", PLAN)
    doc = await collection.find_one({"_id": made.id})
    assert doc["purge_at"] > doc["expires_at"] and doc["state"] == "open" and doc["player"] == "p1"


def test_a_ttl_must_be_positive(collection: Any) -> None:
    with pytest.raises(ValueError):
        Proposals(collection, ttl_s=0)
