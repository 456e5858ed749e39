"""The butler's MongoDB stores on the embedded MongoDB: conversations (bound to their player,
bounded), the players' settings, and the tokens used per day."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from butler import turns
from butler.budget import Budget, seconds_to_next_day
from butler.conversations import Conversations, trim_history
from butler.prefs import PrefsInvalid, PrefsStore, merge
from elysium.problem import Problem


@pytest.fixture
async def db(mongo_url: str, mongo_db_name: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True, retryWrites=False,
                                                                timeoutMS=5000, serverSelectionTimeoutMS=5000)
    yield client[mongo_db_name]
    await client.drop_database(mongo_db_name)
    await client.close()


def store(db: AsyncDatabase[dict[str, Any]], max_entries: int = 10, max_conversations: int = 3) -> Conversations:
    return Conversations(db["conversations"], max_entries=max_entries, max_conversations=max_conversations)


async def test_a_conversation_keeps_its_turns_in_order_for_its_player_only(db: Any) -> None:
    convs = store(db)
    await convs.ensure_indexes()
    doc = await convs.create("alice", "  what is   in my inventory  ")
    assert doc["title"] == "what is in my inventory"
    assert await convs.append("alice", doc["_id"], [{"role": "user", "text": "hi"}, {"role": "assistant",
                                                                                     "text": "hello"}],
                              [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], ["p1"])
    got = await convs.get("alice", doc["_id"])
    assert got is not None
    assert [e["text"] for e in got["entries"]] == ["hi", "hello"]
    assert got["history"][0] == {"role": "user", "content": "hi"} and got["count"] == 2
    assert await convs.get("bob", doc["_id"]) is None  # another player's is not there at all
    assert not await convs.append("bob", doc["_id"], [{"role": "user", "text": "x"}], [], [])
    assert not await convs.delete("bob", doc["_id"])
    assert await convs.get("alice", "not-an-id") is None
    assert await convs.delete("alice", doc["_id"])
    assert await convs.get("alice", doc["_id"]) is None


async def test_entries_and_history_are_capped_oldest_first(db: Any) -> None:
    convs = store(db, max_entries=10)
    doc = await convs.create("alice", "hello")
    for n in range(8):
        await convs.append("alice", doc["_id"], [{"role": "user", "text": f"u{n}"}, {"role": "assistant",
                                                                                     "text": f"a{n}"}],
                           [{"role": "user", "content": f"u{n}"}, {"role": "assistant", "content": f"a{n}"}], [])
    got = await convs.get("alice", doc["_id"])
    assert got is not None
    assert [e["text"] for e in got["entries"]] == [f"{r}{n}" for n in range(3, 8) for r in "ua"]
    assert len(got["history"]) == 10 and got["count"] == 16


def test_a_trimmed_history_starts_at_a_user_message() -> None:
    history = [{"role": "tool", "tool_call_id": "c1", "content": "{}"}, {"role": "assistant", "content": "done"},
               {"role": "user", "content": "next"}, {"role": "assistant", "content": "ok"}]
    assert trim_history(history) == history[2:]
    assert trim_history(history[:2]) == []


async def test_a_player_keeps_the_newest_conversations_and_pages_them_newest_first(db: Any) -> None:
    convs = store(db, max_conversations=3)
    made = []
    for n in range(5):
        made.append((await convs.create("alice", f"talk {n}"))["_id"])
        await asyncio.sleep(0.002)  # ids are millisecond-ordered
    await convs.create("bob", "bob's")
    first, cursor = await convs.page("alice", 2)
    assert [c["title"] for c in first] == ["talk 4", "talk 3"] and cursor is not None
    rest, end = await convs.page("alice", 2, cursor)
    assert [c["title"] for c in rest] == ["talk 2"] and end is None
    assert await convs.get("alice", made[0]) is None and await convs.get("alice", made[1]) is None
    assert [c["title"] for c in (await convs.page("bob", 10))[0]] == ["bob's"]


async def test_a_confirmation_lands_in_the_conversation_that_proposed_it(db: Any) -> None:
    convs = store(db)
    doc = await convs.create("alice", "sell my blade")
    other = await convs.create("alice", "other")
    await convs.append("alice", doc["_id"], [{"role": "proposal", "id": "prop-1"}], [], ["prop-1"])
    entry = {"role": "confirmation", "proposal_id": "prop-1", "outcome": "ok"}
    assert await convs.record_confirmation("alice", "prop-1", entry, {"role": "system", "content": "confirmed"})
    assert not await convs.record_confirmation("bob", "prop-1", entry, {"role": "system", "content": "x"})
    got = await convs.get("alice", doc["_id"])
    assert got is not None and got["entries"][-1] == entry and got["history"][-1]["role"] == "system"
    untouched = await convs.get("alice", other["_id"])
    assert untouched is not None and untouched["entries"] == []


# --- settings -----------------------------------------------------------------------------

async def test_settings_default_then_change_field_by_field(db: Any) -> None:
    prefs = PrefsStore(db["settings"], default_budget=1000, max_budget=5000)
    assert await prefs.get("alice") == turns.Prefs(daily_token_budget=1000)
    changed = await prefs.update("alice", {"tone": "formal", "auto_approve": ["queue"]})
    assert changed.tone == "formal" and changed.auto_approve == frozenset({"queue"})
    again = await prefs.update("alice", {"daily_token_budget": 5000})
    assert again.tone == "formal" and again.daily_token_budget == 5000
    assert await prefs.get("alice") == again
    assert await prefs.get("bob") == turns.Prefs(daily_token_budget=1000)


async def test_a_refused_update_changes_nothing(db: Any) -> None:
    prefs = PrefsStore(db["settings"], default_budget=1000, max_budget=5000)
    await prefs.update("alice", {"tone": "concise"})
    with pytest.raises(PrefsInvalid) as err:
        await prefs.update("alice", {"tone": "formal", "auto_approve": ["spend"]})
    assert set(err.value.errors or {}) == {"auto_approve"}
    assert (await prefs.get("alice")).tone == "concise"


async def test_a_money_category_stored_by_other_means_is_never_auto_approved(db: Any) -> None:
    prefs = PrefsStore(db["settings"], default_budget=1000, max_budget=5000)
    await db["settings"].insert_one({"_id": "alice", "auto_approve": ["spend", "queue"], "daily_token_budget": 10**9})
    got = await prefs.get("alice")
    assert got.auto_approve == frozenset({"queue"}) and got.daily_token_budget == 5000
    assert got.asks(turns.SPEND)


@pytest.mark.parametrize(("update", "field"), [
    ({"persona": "x" * 201}, "persona"),
    ({"persona": 5}, "persona"),
    ({"persona": "line\nbreak"}, "persona"),
    ({"tone": "angry"}, "tone"),
    ({"language": "english"}, "language"),
    ({"language": "EN"}, "language"),
    ({"auto_approve": "queue"}, "auto_approve"),
    ({"auto_approve": ["read"]}, "auto_approve"),
    ({"auto_approve": ["queue", "withdraw"]}, "auto_approve"),
    ({"daily_token_budget": -1}, "daily_token_budget"),
    ({"daily_token_budget": 5001}, "daily_token_budget"),
    ({"daily_token_budget": True}, "daily_token_budget"),
    ({"daily_token_budget": 10.0}, "daily_token_budget"),
    ({"colour": "blue"}, "colour"),
])
def test_each_bad_setting_is_named(update: dict[str, Any], field: str) -> None:
    with pytest.raises(PrefsInvalid) as err:
        merge(turns.Prefs(), update, 5000)
    assert list(err.value.errors or {}) == [field]
    assert err.value.status == 422


@pytest.mark.parametrize("category", sorted(turns.ALWAYS_ASK))
def test_every_money_category_is_refused_by_name(category: str) -> None:
    with pytest.raises(PrefsInvalid) as err:
        merge(turns.Prefs(), {"auto_approve": [category]}, 5000)
    assert category in (err.value.errors or {})["auto_approve"]


def test_good_settings_are_taken() -> None:
    got = merge(turns.Prefs(), {"persona": "a pirate", "tone": "playful", "language": "pt-BR",
                                "auto_approve": list(turns.MAY_SKIP_ASKING), "daily_token_budget": 0}, 5000)
    assert got == turns.Prefs(persona="a pirate", tone="playful", language="pt-BR",
                              auto_approve=frozenset(turns.MAY_SKIP_ASKING), daily_token_budget=0)


# --- token usage ----------------------------------------------------------------------------

async def test_usage_adds_up_per_player_and_day_and_the_check_refuses_at_the_budget(db: Any) -> None:
    now = [datetime(2026, 3, 1, 23, 59, 30, tzinfo=UTC)]
    budget = Budget(db["usage"], clock=lambda: now[0])
    await asyncio.gather(*(budget.record("alice", 10) for _ in range(10)))  # concurrent turns all count
    await budget.record("bob", 7)
    await budget.record("alice", 0)
    assert await budget.used("alice") == 100 and await budget.used("bob") == 7
    await budget.check("alice", 101)
    with pytest.raises(Problem) as err:
        await budget.check("alice", 100)
    assert err.value.status == 429 and err.value.code == "token-budget-spent"
    assert err.value.headers["Retry-After"] == "30"
    now[0] = datetime(2026, 3, 2, 0, 0, 1, tzinfo=UTC)  # a new UTC day, a new budget
    assert await budget.used("alice") == 0
    await budget.check("alice", 100)


def test_seconds_to_the_next_utc_day() -> None:
    assert seconds_to_next_day(datetime(2026, 3, 1, 0, 0, 0, tzinfo=UTC)) == 86_400
    assert seconds_to_next_day(datetime(2026, 3, 1, 23, 59, 59, 500_000, tzinfo=UTC)) == 1
