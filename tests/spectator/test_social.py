"""The social socket (/v1/social) on real relays, real websockets and a real Redis: direct messages
between friends, party and game channels with history, offline inboxes, two replicas, and every
refusal (each answered with an error frame, with nothing delivered or kept)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import msgpack
import pytest
import redis.asyncio as aioredis

from elysium import chat, moderation, social, tokens
from elysium.ws import envelope
from spectator import social_protocol as sp
from spectator.server import SpectatorServer
from spectator.social_client import SocialClient
from tests.waiting import until

Factory = Callable[..., Awaitable[SpectatorServer]]


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    c = aioredis.from_url(redis_url)
    yield c
    await c.aclose()


@pytest.fixture
def chat_relay(relay_factory: Factory, keys_dir: Path) -> Callable[..., Awaitable[SpectatorServer]]:
    async def start(**overrides: Any) -> SpectatorServer:
        return await relay_factory(player_public_key_file=str(keys_dir / "player.pub"), **overrides)

    return start


@pytest.fixture
async def people(player_signer: tokens.Signer) -> AsyncIterator[Callable[..., Awaitable[SocialClient]]]:
    opened: list[SocialClient] = []

    async def connect(relay: SpectatorServer, player: str) -> SocialClient:
        c = SocialClient(f"ws://127.0.0.1:{relay.port}{sp.SOCIAL_PATH}")
        ready = await c.hello(player_signer.issue(player, tokens.PLAYER_AUDIENCE, 300, {"name": player.title()}))
        assert ready["t"] == "ready" and ready["player"] == player, ready
        opened.append(c)
        return c

    yield connect
    for c in opened:
        await c.close()


async def graph(client: aioredis.Redis, friends: list[tuple[str, str]], blocks: tuple[tuple[str, str], ...] = (),
                players: tuple[str, ...] = ("alice", "bob", "carol", "dave")) -> None:
    """Mirror a social graph the way commerce does after its MongoDB writes."""
    for p in players:
        await social.write_graph(client, p, [b if a == p else a for a, b in friends if p in (a, b)],
                                 [b for a, b in blocks if a == p])


async def test_hello_answers_ready_with_the_limits_and_an_empty_inbox(chat_relay: Factory, people: Any) -> None:
    relay = await chat_relay(chat_max_chars=120)
    alice = await people(relay, "alice")
    assert alice.ready["v"] == 1 and alice.ready["name"] == "Alice"
    assert alice.ready["limits"] == {"max_chars": 120, "messages_per_window": 10, "window_s": 10}
    assert alice.inbox == []


async def test_bad_hellos_and_early_messages_are_refused(chat_relay: Factory, player_signer: tokens.Signer,
                                                         join_signer: tokens.Signer) -> None:
    relay = await chat_relay()
    url = f"ws://127.0.0.1:{relay.port}{sp.SOCIAL_PATH}"
    c = SocialClient(url)
    await c.connect()
    await c.send(sp.encode_say("party:P", "hi", 3))
    refused = await c.expect("error")
    assert refused["code"] == sp.NOT_AUTHENTICATED
    await c.send(envelope.pack({"t": "hello", "token": "x"}))
    assert (await c.expect("error"))["code"] == envelope.UNSUPPORTED_VERSION
    await c.send(envelope.pack({"t": "shout"}))
    assert (await c.expect("error"))["code"] == envelope.UNKNOWN_TYPE
    await c.send(b"\xc1")
    assert (await c.expect("error"))["code"] == envelope.BAD_FRAME
    await c.close()
    for token in ("not-a-token", join_signer.issue("alice", tokens.JOIN_AUDIENCE, 30, {"mid": "m"})):
        c = SocialClient(url)
        answer = await c.hello(token)
        assert answer["t"] == "error" and answer["code"] == sp.TOKEN_REJECTED
        await c.close()
    c = SocialClient(url)
    assert (await c.hello(player_signer.issue("alice", tokens.PLAYER_AUDIENCE, 60)))["t"] == "ready"
    await c.send(sp.encode_hello(player_signer.issue("bob", tokens.PLAYER_AUDIENCE, 60)))
    assert (await c.expect("error"))["code"] == sp.ALREADY_AUTHENTICATED
    await c.close()


async def test_a_relay_without_a_player_key_carries_no_chat(relay_factory: Factory) -> None:
    relay = await relay_factory()
    assert relay.chat is None
    c = SocialClient(f"ws://127.0.0.1:{relay.port}{sp.SOCIAL_PATH}")
    with pytest.raises(Exception):
        await c.connect()


async def test_direct_messages_between_friends(chat_relay: Factory, people: Any, client: aioredis.Redis) -> None:
    await graph(client, [("alice", "bob")])
    relay = await chat_relay(chat_blocked_words=("darn",))
    alice, bob = await people(relay, "alice"), await people(relay, "bob")
    ack = await alice.dm("bob", "darn, hello Bob")
    assert ack["t"] == "ack" and ack["stored"] is False and ack["ch"] == "dm:alice:bob"
    got = await bob.expect("msg")
    assert got["from"] == "alice" and got["name"] == "Alice" and got["text"] == "****, hello Bob"
    assert got["ch"] == "dm:alice:bob" and got["mid"] == ack["mid"] and got["ts"] > 0


async def test_direct_message_refusals_deliver_and_keep_nothing(chat_relay: Factory, people: Any,
                                                                client: aioredis.Redis) -> None:
    await graph(client, [("alice", "bob"), ("dave", "bob")], blocks=(("bob", "carol"),))
    relay = await chat_relay(chat_max_chars=20)
    alice, bob, carol, dave = [await people(relay, p) for p in ("alice", "bob", "carol", "dave")]
    refusals = [
        (carol, "bob", "hi", chat.BLOCKED),  # bob blocked carol
        (bob, "carol", "hi", chat.BLOCKED),  # either way
        (alice, "carol", "hi", chat.NOT_FRIENDS),
        (alice, "bob", "x" * 21, chat.TOO_LONG),
        (alice, "bob", "   ", chat.EMPTY),
        (alice, "alice", "hi", envelope.BAD_FIELD),
    ]
    for sender, to, text, code in refusals:
        answer = await sender.dm(to, text)
        assert answer["t"] == "error" and answer["code"] == code, (to, text, answer)
    # Nothing reached anyone: the next message each recipient gets is a later, good one.
    await dave.dm("bob", "first good one")
    assert (await bob.expect("msg"))["text"] == "first good one"
    await bob.dm("alice", "to alice")
    assert (await alice.expect("msg"))["text"] == "to alice"
    assert not await client.exists(chat.inbox_key("bob"), chat.inbox_key("carol"), chat.inbox_key("alice"))


async def test_offline_direct_messages_wait_in_a_bounded_inbox(chat_relay: Factory, people: Any,
                                                               client: aioredis.Redis) -> None:
    await graph(client, [("alice", "bob")])
    relay = await chat_relay(chat_inbox_len=3)
    alice = await people(relay, "alice")
    for i in range(5):
        ack = await alice.dm("bob", f"note {i}")
        assert ack["stored"] is True
    bob = await people(relay, "bob")
    assert [m["text"] for m in bob.inbox] == ["note 2", "note 3", "note 4"]
    assert not await client.exists(chat.inbox_key("bob"))  # delivered once
    assert (await alice.dm("bob", "now live"))["stored"] is False
    assert (await bob.expect("msg"))["text"] == "now live"


async def test_party_channel_history_delivery_blocks_and_removal(chat_relay: Factory, people: Any,
                                                                 client: aioredis.Redis) -> None:
    await graph(client, [], blocks=(("bob", "carol"),))
    ch = chat.party_channel("PARTY1")
    await chat.add_members(client, ch, ["alice", "bob", "carol"])
    relay = await chat_relay(chat_history_len=2)
    alice, bob, carol, dave = [await people(relay, p) for p in ("alice", "bob", "carol", "dave")]
    assert (await alice.subscribe(ch))["msgs"] == []
    for text in ("one", "two", "three"):
        assert (await alice.say(ch, text))["t"] == "ack"
    assert (await carol.say(ch, "from carol"))["t"] == "ack"
    history = await bob.subscribe(ch)
    # The last two, without carol's (bob blocked her): history obeys blocks too.
    assert history["t"] == "history" and [m["text"] for m in history["msgs"]] == ["three"]
    assert [m["text"] for m in (await carol.subscribe(ch))["msgs"]] == ["three", "from carol"]
    refused = await dave.subscribe(ch)
    assert refused["t"] == "error" and refused["code"] == chat.NOT_MEMBER
    assert (await dave.say(ch, "let me in"))["code"] == chat.NOT_MEMBER
    for bad in ("lobby", chat.dm_channel("alice", "bob"), chat.team_channel("m1", 0)):
        assert (await alice.say(bad, "hi"))["code"] == chat.BAD_CHANNEL

    await carol.say(ch, "carol again")
    await alice.say(ch, "alice again")
    assert await bob.texts_until("alice again") == ["alice again"]  # carol's never came to bob
    assert await carol.texts_until("alice again") == ["carol again", "alice again"]  # her own line too
    assert await alice.texts_until("alice again") == ["one", "two", "three", "from carol", "carol again",
                                                      "alice again"]

    await chat.remove_members(client, ch, ["bob"])
    assert (await bob.expect("removed"))["ch"] == ch
    await alice.say(ch, "after bob left")
    assert await alice.texts_until("after bob left") == ["after bob left"]
    assert (await bob.say(ch, "still here?"))["code"] == chat.NOT_MEMBER
    assert (await bob.unsubscribe(ch))["code"] == sp.NOT_SUBSCRIBED
    assert not any(m.get("text") == "after bob left" for m in bob.received)
    assert (await alice.unsubscribe(ch))["t"] == "ack"


async def test_chat_rate_is_per_player(chat_relay: Factory, people: Any, client: aioredis.Redis) -> None:
    ch = chat.game_channel("G1")
    await chat.add_members(client, ch, ["alice", "bob"])
    relay = await chat_relay(chat_messages_per_window=2, chat_window_s=60)
    alice, bob = await people(relay, "alice"), await people(relay, "bob")
    await bob.subscribe(ch)
    assert [(await alice.say(ch, f"m{i}"))["t"] for i in range(2)] == ["ack", "ack"]
    limited = await alice.say(ch, "third")
    assert limited["t"] == "error" and limited["code"] == chat.CHAT_RATE_LIMITED
    assert (await bob.say(ch, "bob may"))["t"] == "ack"
    texts = [(await bob.expect("msg"))["text"] for _ in range(3)]
    assert texts == ["m0", "m1", "bob may"]
    assert [m.text for m in await chat.ChatStore(client, chat.ChatLimits()).history(ch)] == ["m0", "m1", "bob may"]


async def test_muted_players_get_an_error(chat_relay: Factory, people: Any, client: aioredis.Redis) -> None:
    await graph(client, [("alice", "bob")])
    ch = chat.party_channel("P2")
    await chat.add_members(client, ch, ["alice", "bob"])
    relay = await chat_relay()
    alice, bob = await people(relay, "alice"), await people(relay, "bob")
    await bob.subscribe(ch)
    await moderation.publish(client, moderation.ModerationEvent("mute", "alice", None, "act-1", 1))
    assert (await alice.dm("bob", "hi"))["code"] == chat.MUTED
    assert (await alice.say(ch, "hi"))["code"] == chat.MUTED
    await bob.say(ch, "bob speaks")
    assert (await bob.expect("msg"))["text"] == "bob speaks"
    assert not await client.exists(chat.inbox_key("bob"))


async def test_a_banned_player_is_refused_at_hello(chat_relay: Factory, player_signer: tokens.Signer,
                                                   client: aioredis.Redis) -> None:
    await moderation.publish(client, moderation.ModerationEvent("ban", "mallory", None, "act-2", 1))
    relay = await chat_relay()
    c = SocialClient(f"ws://127.0.0.1:{relay.port}{sp.SOCIAL_PATH}")
    answer = await c.hello(player_signer.issue("mallory", tokens.PLAYER_AUDIENCE, 60))
    assert answer["t"] == "error" and answer["code"] == sp.BANNED
    assert relay.chat is not None and "mallory" not in relay.chat.players
    await c.close()


async def test_a_ban_ends_an_open_social_socket(chat_relay: Factory, people: Any, client: aioredis.Redis) -> None:
    relay = await chat_relay()
    mallory = await people(relay, "mallory")
    await until(lambda: relay.chat is not None and relay.chat.moderation.ready.is_set())
    await moderation.publish(client, moderation.ModerationEvent("ban", "mallory", None, "act-3", 1))
    assert (await mallory.expect("error"))["code"] == sp.BANNED
    await until(lambda: relay.chat is not None and "mallory" not in relay.chat.players)


async def test_delivery_across_two_replicas(chat_relay: Factory, people: Any, client: aioredis.Redis) -> None:
    await graph(client, [("alice", "bob")])
    ch = chat.party_channel("P3")
    await chat.add_members(client, ch, ["alice", "bob"])
    one, two = await chat_relay(relay_id="relay-a"), await chat_relay(relay_id="relay-b")
    alice, bob = await people(one, "alice"), await people(two, "bob")
    assert (await alice.dm("bob", "across"))["stored"] is False
    assert (await bob.expect("msg"))["text"] == "across"
    await alice.subscribe(ch)
    await bob.subscribe(ch)
    await bob.say(ch, "to the party")
    assert (await alice.expect("msg"))["text"] == "to the party"
    await until(lambda: one.chat is not None and one.chat.delivered >= 1)
    metrics = one.metrics.render().decode()
    assert "elysium_spectator_social_sockets 1.0" in metrics
    assert 'elysium_spectator_chat_messages_total{outcome="ok"} 1.0' in metrics


async def test_a_second_socket_replaces_the_first(chat_relay: Factory, people: Any, client: aioredis.Redis) -> None:
    await graph(client, [("alice", "bob")])
    relay = await chat_relay()
    first = await people(relay, "bob")
    second = await people(relay, "bob")
    assert (await first.expect("error"))["code"] == sp.REPLACED
    alice = await people(relay, "alice")
    await alice.dm("bob", "which one?")
    assert (await second.expect("msg"))["text"] == "which one?"
    assert relay.chat is not None and relay.chat.players["bob"] is not None


async def test_a_second_socket_on_another_relay_replaces_the_first(chat_relay: Factory, people: Any,
                                                                   client: aioredis.Redis) -> None:
    await graph(client, [("alice", "bob")])
    one, two = await chat_relay(relay_id="relay-a"), await chat_relay(relay_id="relay-b")
    first = await people(one, "bob")
    second = await people(two, "bob")
    assert (await first.expect("error"))["code"] == sp.REPLACED
    await until(lambda: one.chat is not None and "bob" not in one.chat.players)
    alice = await people(one, "alice")
    await alice.dm("bob", "on relay b?")
    assert (await second.expect("msg"))["text"] == "on relay b?"


async def test_a_flood_is_refused_at_the_socket(chat_relay: Factory, people: Any) -> None:
    relay = await chat_relay(social_max_messages_per_s=5)
    alice = await people(relay, "alice")
    for i in range(8):
        await alice.send(envelope.encode_ping(i))
    codes = []
    while True:
        msg = await alice.recv()
        if msg["t"] == "error":
            codes.append(msg["code"])
            break
    assert codes == [envelope.RATE_LIMITED]


def test_decode_refuses_bad_fields() -> None:
    for msg in ({"t": "say", "ch": 5, "text": "x"}, {"t": "dm", "to": "", "text": "x"},
                {"t": "sub", "ch": "x" * 200}, {"t": "say", "ch": "party:P", "text": "x", "id": -1}):
        with pytest.raises(envelope.ProtocolViolation) as exc:
            sp.decode_social(msgpack.packb(msg), 4096, 500)
        assert exc.value.code == envelope.BAD_FIELD
