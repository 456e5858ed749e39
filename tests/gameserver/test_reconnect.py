"""Reconnection within and after the grace period."""

from __future__ import annotations

import asyncio
from typing import Any

from elysium.ws import envelope
from gameserver import protocol as p
from gameserver.client import GameClient
from tests.gameserver.conftest import url
from tests.waiting import until


async def test_rejoin_within_grace_keeps_the_seat_and_gets_a_keyframe(server_factory: Any, mint: Any,
                                                                       cleanup_servers: None) -> None:
    server = await server_factory(reconnect_grace_s=5.0)
    a, b = GameClient(url(server)), GameClient(url(server))
    wa = await a.join(mint("alice", "rc", seats=2))
    await b.join(mint("bob", "rc", seats=2))
    for _ in range(5):
        await a.send_input(1.0, 0.0, 0.0, False)
        await asyncio.sleep(0.05)
    acked_before = server.rooms["rc"].by_player["alice"].last_applied
    assert a.ws is not None
    a.ws.transport.abort()  # the network drops
    drop = await b.expect("events")
    while not any(e["k"] == "drop" for e in drop["e"]):
        drop = await b.expect("events")
    assert [e for e in drop["e"] if e["k"] == "drop"][0]["who"] == wa["player"]

    again = GameClient(url(server))
    welcome = await again.join(resume=wa["resume"])
    assert welcome["t"] == "welcome" and welcome["player"] == wa["player"]
    assert welcome["resume"] != wa["resume"]  # resume tokens are single use
    # The keyframe that followed has the seat, connected again, with its acked sequence.
    assert again.replica.roster[wa["player"]][4] is True
    assert again.replica.acks[wa["player"]] == acked_before
    back = await b.expect("events")
    while not any(e["k"] == "back" for e in back["e"]):
        back = await b.expect("events")
    # The resumed client goes on numbering where the seat stood (docs/protocol.md), so its
    # next input is applied rather than ignored as old.
    seq = await again.send_input(-1.0, 0.0, 0.0, False)
    assert seq == acked_before + 1
    seat = server.rooms["rc"].by_player["alice"]
    await until(lambda: seat.last_applied == seq, what="the resumed client's input applied")
    # A used resume token does not work twice.
    thief = GameClient(url(server))
    assert (await thief.join(resume=wa["resume"]))["code"] == p.RESUME_REJECTED
    for c in (again, b, thief):
        await c.close()


async def test_after_the_grace_period_the_seat_is_freed_and_others_are_told(server_factory: Any, mint: Any,
                                                                           cleanup_servers: None) -> None:
    server = await server_factory(reconnect_grace_s=0.3)
    a, b = GameClient(url(server)), GameClient(url(server))
    wa = await a.join(mint("alice", "rc2", seats=2))
    await b.join(mint("bob", "rc2", seats=2))
    assert a.ws is not None
    a.ws.transport.abort()
    seen: list[dict[str, Any]] = []
    while not any(e["k"] == "leave" for e in seen):
        seen.extend((await b.expect("events"))["e"])
    leave = next(e for e in seen if e["k"] == "leave")
    assert leave == {"k": "leave", "who": wa["player"], "reason": "timeout"}
    assert wa["player"] not in b.replica.players  # the delta said "gone"
    late = GameClient(url(server))
    assert (await late.join(resume=wa["resume"]))["code"] == p.RESUME_REJECTED
    assert "alice" not in server.rooms["rc2"].by_player
    await b.close()
    await late.close()


async def test_a_leave_message_frees_the_seat_at_once(game_server: Any, mint: Any) -> None:
    a, b = GameClient(url(game_server)), GameClient(url(game_server))
    wa = await a.join(mint("alice", "lv", seats=2))
    await b.join(mint("bob", "lv", seats=2))
    await a.send(envelope.encode_leave())
    seen: list[dict[str, Any]] = []
    while not any(e["k"] == "leave" for e in seen):
        seen.extend((await b.expect("events"))["e"])
    assert next(e for e in seen if e["k"] == "leave") == {"k": "leave", "who": wa["player"], "reason": "left"}
    await b.close()
