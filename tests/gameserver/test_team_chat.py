"""In-match team chat over real websockets and Redis: team mates only (everyone without teams),
the filter and limits, mutes and blocks, and the refusals (each an error, nothing relayed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from elysium import chat, moderation, social
from elysium.ws import envelope, play
from gameserver import protocol as p
from gameserver.client import GameClient
from gameserver.server import GameServer
from tests.gameserver.conftest import url


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    c = aioredis.from_url(redis_url)
    yield c
    await c.aclose()


async def seated(server: GameServer, mint: Any, players: list[str], **room: Any) -> list[GameClient]:
    out = []
    for player in players:
        c = GameClient(url(server))
        welcome = await c.join(mint(player, "chat-match", seats=len(players), min_players=len(players), **room))
        assert welcome["t"] == "welcome", welcome
        out.append(c)
    return out


async def chat_lines(c: GameClient, until_text: str) -> list[dict[str, Any]]:
    """The chat messages ``c`` receives up to the one saying ``until_text``."""
    lines: list[dict[str, Any]] = []
    while not lines or lines[-1]["text"] != until_text:
        lines.append(await c.expect("chat"))
    return lines


async def error_for(c: GameClient, ref: int) -> dict[str, Any]:
    while True:
        msg = await c.expect("error")
        if msg.get("ref") == ref:
            return msg


async def test_team_chat_reaches_team_mates_only(server_factory: Any, mint: Any, client: aioredis.Redis) -> None:
    server = await server_factory(chat_blocked_words=("darn",))
    a, b, c, d = await seated(server, mint, ["alice", "bob", "carol", "dave"], teams=2)
    teams = {x.welcome["team"] for x in (a, c)}
    assert teams == {0} and {b.welcome["team"], d.welcome["team"]} == {1}  # seat % teams
    await a.send(play.encode_chat("darn, push mid"))
    for mate in (a, c):
        [line] = await chat_lines(mate, "****, push mid")
        assert line["from"] == a.welcome["player"] and line["id"] == "alice" and line["team"] == 0
        assert line["name"] == "alice" and line["ts"] > 0
    # One line goes to every recipient at once: had alice's reached b or d, it would come first.
    await b.send(play.encode_chat("team one here"))
    for other in (b, d):
        assert [m["text"] for m in await chat_lines(other, "team one here")] == ["team one here"]


async def test_everyone_hears_in_a_mode_without_teams(server_factory: Any, mint: Any) -> None:
    server = await server_factory()
    a, b, c = await seated(server, mint, ["alice", "bob", "carol"])
    await b.send(play.encode_chat("hello all"))
    for x in (a, b, c):
        [line] = await chat_lines(x, "hello all")
        assert line["team"] is None and line["id"] == "bob"


async def test_blocks_and_mutes(server_factory: Any, mint: Any, client: aioredis.Redis) -> None:
    for player, blocks in (("alice", ["bob"]), ("bob", []), ("carol", [])):
        await social.write_graph(client, player, [], blocks)
    server = await server_factory()
    a, b, c = await seated(server, mint, ["alice", "bob", "carol"])
    await b.send(play.encode_chat("from bob"))
    assert [m["text"] for m in await chat_lines(c, "from bob")] == ["from bob"]
    await c.send(play.encode_chat("from carol"))
    assert [m["text"] for m in await chat_lines(a, "from carol")] == ["from carol"]  # alice blocked bob
    await moderation.publish(client, moderation.ModerationEvent("mute", "carol", None, "act-1", 1))
    await c.send(play.encode_chat("muted now", 9))
    assert (await error_for(c, 9))["code"] == chat.MUTED
    await b.send(play.encode_chat("bob again"))
    assert [m["text"] for m in await chat_lines(c, "bob again")] == ["bob again"]


async def test_refusals_relay_nothing(server_factory: Any, mint: Any) -> None:
    server = await server_factory(chat_max_chars=10, chat_messages_per_window=2, chat_window_s=60)
    a, b = await seated(server, mint, ["alice", "bob"])
    await a.send(play.encode_chat("x" * 11, 1))
    assert (await error_for(a, 1))["code"] == chat.TOO_LONG
    await a.send(play.encode_chat("  ", 2))
    assert (await error_for(a, 2))["code"] == chat.EMPTY
    await a.send(envelope.pack({"t": "chat", "text": "ok", "id": "one"}))
    assert (await a.expect("error"))["code"] == p.BAD_FIELD
    for i in range(2):
        await a.send(play.encode_chat(f"ok {i}"))
        assert [m["text"] for m in await chat_lines(b, f"ok {i}")] == [f"ok {i}"]
    await a.send(play.encode_chat("third", 3))
    assert (await error_for(a, 3))["code"] == chat.CHAT_RATE_LIMITED
    await b.send(play.encode_chat("bob"))
    assert [m["text"] for m in await chat_lines(b, "bob")] == ["bob"]
    assert server.team_chat.relayed == 6  # two lines of alice's and one of bob's, to both of them


async def test_chat_before_join_is_refused(game_server: GameServer) -> None:
    c = GameClient(url(game_server))
    await c.connect()
    await c.send(play.encode_chat("hello?"))
    assert (await c.expect("error"))["code"] == p.NOT_JOINED
    await c.close()


def test_decode_chat() -> None:
    msg = p.decode_client(play.encode_chat("gg", 4))
    assert msg == p.Chat("gg", 4)
    assert p.decode_client(play.encode_chat("gg")) == p.Chat("gg", None)
