"""The chat kernel: channel names, the filter, limits (pure), and membership, rate, history, inbox
and delivery against a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from elysium import chat, social
from elysium.chat import ChatLimits, ChatMessage, ChatRefused, ChatStore, WordListFilter


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    c = aioredis.from_url(redis_url)
    yield c
    await c.aclose()


def message(ch: str, sender: str = "alice", text: str = "hi", mid: str = "m1") -> ChatMessage:
    return ChatMessage(ch=ch, sender=sender, name=sender, text=text, ts_ms=1, mid=mid)


# --- names ------------------------------------------------------------------------------------

def test_channel_names_round_trip() -> None:
    assert chat.dm_channel("bob", "alice") == chat.dm_channel("alice", "bob") == "dm:alice:bob"
    assert chat.parse_channel("dm:alice:bob").parts == ("alice", "bob")
    assert chat.parse_channel(chat.party_channel("ABC234")).kind == chat.PARTY
    assert chat.parse_channel(chat.game_channel("XYZ")).kind == chat.GAME
    team = chat.parse_channel(chat.team_channel("m-1", 1))
    assert team.kind == chat.TEAM and team.parts == ("m-1", "1") and team.is_group


@pytest.mark.parametrize("raw", ["", "lobby", "dm:bob:alice", "dm:alice:alice", "party:", "party:a b",
                                 "game:" + "x" * 65, "team:m1:x", 7, None, "party:ABC:extra"])
def test_bad_channel_names_are_refused(raw: object) -> None:
    with pytest.raises(ChatRefused) as exc:
        chat.parse_channel(raw)
    assert exc.value.code == chat.BAD_CHANNEL


# --- text -------------------------------------------------------------------------------------

def test_word_list_filter_masks_listed_words_only() -> None:
    f = WordListFilter(["darn", "heck"])
    assert f.apply("Darn it, what the HECK, darned thing") == "**** it, what the ****, ****** thing"
    assert f.apply("a darnless-free sentence about heckling") == "a ********-free sentence about ********"
    assert f.apply("nothing here") == "nothing here"
    assert WordListFilter([]).apply("darn") == "darn"
    assert "fuck" not in WordListFilter().apply("fuck this")


def test_check_text_limits_and_filters() -> None:
    limits = ChatLimits(max_chars=10)
    f = WordListFilter(["darn"])
    assert chat.check_text("  darn!  ", limits, f) == "****!"
    for raw, code in (("x" * 11, chat.TOO_LONG), ("", chat.EMPTY), ("   ", chat.EMPTY), (5, chat.EMPTY),
                      ("a\x00b", chat.EMPTY)):
        with pytest.raises(ChatRefused) as exc:
            chat.check_text(raw, limits, f)
        assert exc.value.code == code


def test_a_filter_may_refuse() -> None:
    class NoLinks:
        def apply(self, text: str) -> str:
            if "http" in text:
                raise ChatRefused(chat.FILTERED, "links are not allowed")
            return text

    assert chat.check_text("gg", ChatLimits(), NoLinks()) == "gg"
    with pytest.raises(ChatRefused) as exc:
        chat.check_text("see http://x", ChatLimits(), NoLinks())
    assert exc.value.code == chat.FILTERED


def test_the_filter_setting() -> None:
    from elysium import config

    default = config.load(chat.ChatSettings, environ={})
    assert default.text_filter().apply("oh shit") == "oh ****"
    mine = config.load(chat.ChatSettings, environ={"ELYSIUM_CHAT_BLOCKED_WORDS": "darn, heck"})
    assert mine.text_filter().apply("darn shit") == "**** shit"
    off = config.load(chat.ChatSettings, environ={"ELYSIUM_CHAT_BLOCKED_WORDS": "none"})
    assert off.text_filter().apply("darn shit") == "darn shit"


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError):
        ChatLimits(history_len=0)


# --- Redis ------------------------------------------------------------------------------------

async def test_membership(client: aioredis.Redis) -> None:
    ch = chat.party_channel("P1")
    await chat.add_members(client, ch, ["alice", "bob"])
    assert await chat.is_member(client, ch, "alice") and await chat.members(client, ch) == {"alice", "bob"}
    assert 0 < await client.ttl(chat.members_key(ch)) <= chat.MEMBERS_TTL_S
    pubsub = client.pubsub()
    await pubsub.subscribe(chat.channel_topic(ch))
    await pubsub.get_message(timeout=1.0)  # the subscribe confirmation
    await chat.remove_members(client, ch, ["bob"])
    assert not await chat.is_member(client, ch, "bob") and await chat.is_member(client, ch, "alice")
    got = await pubsub.get_message(timeout=2.0)
    assert got is not None and chat.decode_published(got["data"]).removed == {"bob"}
    await chat.close_channel(client, ch)
    assert await chat.members(client, ch) == set()
    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves PubSub.aclose unannotated
    with pytest.raises(ValueError):
        await chat.add_members(client, chat.dm_channel("a", "b"), ["a"])


async def test_rate_is_per_player_and_window(client: aioredis.Redis) -> None:
    limits = ChatLimits(messages_per_window=3, window_s=10)
    now = 1_000_000.0
    assert [await chat.take_rate(client, "alice", limits, now) for _ in range(4)] == [True, True, True, False]
    assert await chat.take_rate(client, "bob", limits, now)  # another player has their own count
    assert await chat.take_rate(client, "alice", limits, now + 10)  # the next window


async def test_say_keeps_the_last_n_and_checks_membership_rate_and_blocks(client: aioredis.Redis) -> None:
    store = ChatStore(client, ChatLimits(history_len=3, messages_per_window=6))
    ch = chat.game_channel("G1")
    await chat.add_members(client, ch, ["alice", "bob", "carol"])
    await social.write_graph(client, "alice", [], [])
    await social.write_graph(client, "bob", [], ["alice"])
    await social.write_graph(client, "carol", [], [])
    pubsub = client.pubsub()
    await pubsub.subscribe(chat.channel_topic(ch))
    await pubsub.get_message(timeout=1.0)
    for i in range(5):
        await store.say(message(ch, text=f"line {i}", mid=str(i)), now=1000.0)
    assert [m.text for m in await store.history(ch)] == ["line 2", "line 3", "line 4"]
    got = await pubsub.get_message(timeout=2.0)
    assert got is not None and chat.decode_published(got["data"]).skip == {"bob"}  # bob blocked alice
    with pytest.raises(ChatRefused) as exc:
        await store.say(message(ch, sender="dave"), now=1000.0)
    assert exc.value.code == chat.NOT_MEMBER
    await store.say(message(ch, text="sixth"), now=1000.0)
    with pytest.raises(ChatRefused) as exc:
        await store.say(message(ch, text="seventh"), now=1000.0)
    assert exc.value.code == chat.CHAT_RATE_LIMITED
    assert [m.text for m in await store.history(ch)] == ["line 3", "line 4", "sixth"]
    await client.rpush(chat.history_key(ch), b"not msgpack \xc1")
    assert len(await store.history(ch)) == 2  # a foreign entry is skipped, never sent
    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves PubSub.aclose unannotated


async def test_direct_goes_to_the_inbox_only_when_nobody_listens(client: aioredis.Redis) -> None:
    store = ChatStore(client, ChatLimits(inbox_len=2))
    ch = chat.dm_channel("alice", "bob")
    for i in range(3):
        assert not await store.deliver_direct(message(ch, text=f"dm {i}", mid=str(i)), "bob")
    pubsub = client.pubsub()
    await pubsub.subscribe(chat.player_topic("bob"))
    await pubsub.get_message(timeout=1.0)
    assert await store.deliver_direct(message(ch, text="live", mid="4"), "bob")
    got = await pubsub.get_message(timeout=2.0)
    assert got is not None
    published = chat.decode_published(got["data"])
    assert published.message is not None and chat.unpack_message(published.message).text == "live"
    assert [m.text for m in await store.take_inbox("bob")] == ["dm 1", "dm 2"]  # bounded: the oldest went
    assert await store.take_inbox("bob") == []
    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves PubSub.aclose unannotated
