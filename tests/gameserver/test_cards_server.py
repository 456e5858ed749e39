"""Cards on a real game server: a resumed seat's keyframe is its own view, refusals reach their
player alone, and options out of bounds are refused at join."""

from __future__ import annotations

from typing import Any

from elysium.ws import envelope, play
from gameserver.client import GameClient
from gameserver.modes import cards_rules as r
from gameserver.modes.cards import Cards
from gameserver.room import MatchId, PlayerId
from gameserver.server import GameServer
from tests.gameserver.conftest import url
from tests.gameserver.rawclient import RawClient
from tests.waiting import until

ROOM = {"mode": "cards", "seats": 2, "min_players": 2, "seed": 4,
        "options": {"hand_size": 4, "turn_time_s": 30.0, "rounds": 1}}


def hand_of(client: GameClient, seat: int) -> set[int]:
    return {row[3] for row in client.replica.objects.values() if row[1] == r.HAND and row[2] == seat}


def others_hands(client: GameClient) -> list[list[int]]:
    me = client.welcome["player"]
    return [row for row in client.replica.objects.values() if row[1] in (r.HAND, r.STOCK) and row[2] != me]


async def test_a_resumed_seat_gets_its_own_view_and_refusals_stay_private(game_server: GameServer, mint: Any) -> None:
    a, b = GameClient(url(game_server)), GameClient(url(game_server))
    wa = await a.join(mint("alice", "cards-1", **ROOM))
    wb = await b.join(mint("bob", "cards-1", **ROOM))
    assert wa["t"] == wb["t"] == "welcome"

    async def dealt(c: GameClient) -> bool:
        await c.recv(timeout=5)
        return len(hand_of(c, c.welcome["player"])) == 4
    await until(lambda: dealt(a), what="alice's hand")
    await until(lambda: dealt(b), what="bob's hand")
    assert others_hands(a) == [] and others_hands(b) == []
    mode = game_server.rooms[MatchId("cards-1")].mode
    assert isinstance(mode, Cards)
    game = mode.game
    waiting = a if game.turn != wa["player"] else b  # the one not to act
    seat = waiting.welcome["player"]
    card = sorted(hand_of(waiting, seat))[0]
    await waiting.send_row(card)
    other = b if waiting is a else a

    async def refused() -> list[dict[str, Any]]:
        await waiting.recv(timeout=5)
        return [e for e in waiting.events if e["k"] == "refused"]
    (refusal,) = await until(refused, what="the refusal")
    assert refusal == {"k": "refused", "who": seat, "card": card, "why": r.NOT_YOUR_TURN}
    for _ in range(5):
        await other.recv(timeout=5)
    assert not any(e["k"] == "refused" for e in other.events)  # only the player learns why

    # Drop alice's connection and resume: the keyframe is her view, with her hand only.
    hand = hand_of(a, wa["player"])
    await a.close()
    back = GameClient(url(game_server))
    welcome = await back.join(resume=wa["resume"])
    assert welcome["t"] == "welcome" and welcome["player"] == wa["player"]
    assert hand_of(back, wa["player"]) == hand and others_hands(back) == []
    await back.close()
    await b.close()


async def test_options_outside_the_declaration_are_refused_at_join(game_server: GameServer, mint: Any) -> None:
    for bad in ({"hand_size": 8}, {"turn_time_s": 0.0}, {"nope": 1}):
        c = GameClient(url(game_server))
        reply = await c.join(mint("carol", "cards-bad", **{**ROOM, "options": bad}))
        assert reply["t"] == "error" and reply["code"] == "token_rejected", reply
        await c.close()
    c = GameClient(url(game_server))
    reply = await c.join(mint("carol", "cards-bad", **{**ROOM, "seats": 5}))
    assert reply["t"] == "error" and reply["code"] == "token_rejected" and "seats" in reply["msg"]
    await c.close()
    assert MatchId("cards-bad") not in game_server.rooms


async def test_a_slow_reader_is_resynced_with_a_keyframe_of_its_own_view(
        server_factory: Any, mint: Any, cleanup_servers: None) -> None:
    server = await server_factory(send_buffer_skip_bytes=1024, send_buffer_close_bytes=1 << 30,
                                  socket_send_buffer_bytes=4096, max_inputs_per_s=1000)
    room = {**ROOM, "options": {**ROOM["options"], "turn_time_s": 0.2, "pause_s": 0.2, "rounds": 20}}  # type: ignore[dict-item]
    reader = GameClient(url(server))
    await reader.join(mint("reader", "slow-cards", **room))
    sleeper = await RawClient.open(server.port, rcvbuf=4096)
    sleeper.send(play.encode_join(token=mint("sleeper", "slow-cards", **room)))
    sleeper.pause_reading()
    await until(lambda: MatchId("slow-cards") in server.rooms
                and PlayerId("sleeper") in server.rooms[MatchId("slow-cards")].by_player, what="the sleeper seated")
    seat = server.rooms[MatchId("slow-cards")].by_player[PlayerId("sleeper")].index
    for i in range(900):  # far more pongs than it reads: its buffers fill up
        sleeper.send(envelope.encode_ping(i, 2**62))
    dropped = server.metrics.frames_dropped._value
    await until(lambda: dropped.get() > 5, 20, what="deltas skipped for the sleeper")
    skipped_at = server.rooms[MatchId("slow-cards")].tick_number
    sleeper.resume_reading()
    while True:  # the backlog drains, then a keyframe of its own view replaces what it missed
        msg = await sleeper.recv_msg()
        if msg["t"] == "keyframe" and msg["n"] >= skipped_at:
            break
    hidden = [row for row in msg["objects"] if (row[1] == r.HAND and row[2] != seat) or row[1] == r.STOCK]
    assert hidden == []
    assert any(row[1] == r.HAND and row[2] == seat for row in msg["objects"])  # its own hand is there
    follow = await sleeper.recv_msg("delta")
    assert follow["n"] == msg["n"] + 1
    sleeper.close()
    await reader.close()
