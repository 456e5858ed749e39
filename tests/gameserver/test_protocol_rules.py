"""Protocol v1 rules a third-party client meets, against a live server: sequence numbers
across a resume and past 2**32 - 1, resends in the rate limit, a seat taken over by a
second connection, and the errors of malformed joins, pings and oversized messages."""

from __future__ import annotations

import asyncio
from typing import Any

import msgpack

from elysium.ws import envelope, frames, play
from gameserver import protocol as p
from gameserver.server import GameServer
from gameserver.spec import MatchId, PlayerId
from tests.gameserver.rawclient import RawClient
from tests.waiting import until

TOP = 2**32 - 1


async def join(server: GameServer, token: str) -> tuple[RawClient, dict[str, Any], dict[str, Any]]:
    c = await RawClient.open(server.port)
    c.send(play.encode_join(token=token))
    welcome = await c.recv_msg()
    assert welcome["t"] == "welcome", welcome
    return c, welcome, await c.recv_msg("keyframe")


def inp(seq: int) -> p.Input:
    return p.Input(seq, 0.5, 0.0, 0.0, False)


async def acked(c: RawClient, seat: int, seq: int) -> None:
    """Read deltas until one acknowledges ``seq`` for ``seat``."""
    while True:
        delta = await c.recv_msg("delta")
        if [seat, seq] in delta.get("a", []):
            return


async def close_frame(c: RawClient) -> tuple[int, str]:
    while True:
        frame = await c.recv()
        if frame.opcode == frames.OP_CLOSE:
            return int.from_bytes(frame.data[:2], "big"), frame.data[2:].decode()


# --- sequence numbers ---------------------------------------------------------------------


def test_sequence_numbers_compare_modulo_2_to_the_32() -> None:
    assert play.seq_after(0, -1) and play.seq_after(TOP, -1)
    assert play.seq_after(0, TOP) and play.seq_after(5, TOP - 3)  # numbering wraps
    assert not play.seq_after(TOP, 0) and not play.seq_after(7, 7) and not play.seq_after(6, 7)
    assert play.count_new([(TOP, 0, 0, 0, False), (0, 0, 0, 0, False), (0, 0, 0, 0, False)], TOP - 1) == 2


async def test_seq_wraps_from_2_to_the_32_minus_1_to_0(game_server: GameServer, mint: Any) -> None:
    c, welcome, _ = await join(game_server, mint("solo", "wrap", min_players=1))
    seat = welcome["player"]
    c.send(play.encode_inputs([inp(TOP - 1)]))
    await acked(c, seat, TOP - 1)
    c.send(play.encode_inputs([inp(TOP)]))
    await acked(c, seat, TOP)
    c.send(play.encode_inputs([inp(0)]))  # the seat is not locked at the top: 0 follows
    await acked(c, seat, 0)
    c.send(play.encode_inputs([inp(TOP), inp(0), inp(1)]))  # resends of the old numbers are skipped
    await acked(c, seat, 1)
    c.close()


async def test_a_resumed_connection_continues_after_the_keyframe_ack(server_factory: Any, mint: Any,
                                                                     cleanup_servers: None) -> None:
    server = await server_factory(reconnect_grace_s=5.0)
    c, welcome, _ = await join(server, mint("solo", "res", min_players=1))
    seat = welcome["player"]
    for seq in range(100, 105):
        c.send(play.encode_inputs([inp(seq)]))
    await acked(c, seat, 104)
    c.writer.transport.abort()  # the network drops
    room = server.rooms["res"]
    held = room.seats[seat]
    assert held is not None
    await until(lambda: held.dropped_at is not None, what="the seat held")
    again = await RawClient.open(server.port)
    again.send(play.encode_join(resume=welcome["resume"]))
    assert (await again.recv_msg())["t"] == "welcome"
    keyframe = await again.recv_msg("keyframe")
    assert [seat, 104] in keyframe["a"]  # where the seat's numbering stands: continue at 105
    again.send(play.encode_inputs([inp(1)]))  # restarting at 1 is below it: ignored, as documented
    again.send(play.encode_inputs([inp(105)]))
    await acked(again, seat, 105)
    assert held.last_applied == 105
    again.close()


# --- the rate limit -----------------------------------------------------------------------


async def test_resent_inputs_do_not_count_in_the_rate_limit(server_factory: Any, mint: Any,
                                                           cleanup_servers: None) -> None:
    server = await server_factory(max_inputs_per_s=20, abuse_limit=3)
    # Alone in a room that waits for a second player: no acks come, so the client resends
    # every unacknowledged input in each message, up to 16 of them.
    c, _, _ = await join(server, mint("early", "wait"))
    for seq in range(1, 31):
        c.send(play.encode_inputs([inp(s) for s in range(max(1, seq - 15), seq + 1)]))
        await asyncio.sleep(0.06)  # under 20 messages per second
    seat = server.rooms["wait"].by_player["early"]
    await until(lambda: seat.last_enqueued == 30, what="every new input taken")
    assert server.metrics.rejected_inputs.labels("rate")._value.get() == 0
    c.send(envelope.encode_ping(3))
    assert (await c.recv_msg("pong"))["id"] == 3  # no error came before it, and it is still open
    c.close()


async def test_new_inputs_in_one_message_count_one_each(server_factory: Any, mint: Any,
                                                       cleanup_servers: None) -> None:
    server = await server_factory(max_inputs_per_s=20, abuse_limit=1000)
    c, _, _ = await join(server, mint("greedy", "burst"))
    c.send(play.encode_inputs([inp(s) for s in range(1, 17)]))
    c.send(play.encode_inputs([inp(s) for s in range(17, 33)]))  # 32 new inputs at once: over the burst
    assert (await c.recv_msg("error"))["code"] == p.RATE_LIMITED
    assert server.rooms["burst"].by_player["greedy"].last_enqueued == 16
    c.close()


async def test_rate_limit_strikes_close_the_connection(server_factory: Any, mint: Any,
                                                       cleanup_servers: None) -> None:
    server = await server_factory(max_inputs_per_s=5, abuse_limit=3)
    c, _, _ = await join(server, mint("flooder", "flood"))
    for i in range(20):
        c.send(envelope.encode_ping(i))
    assert await close_frame(c) == (frames.CLOSE_POLICY, "too many protocol errors")


# --- a second connection for one seat -----------------------------------------------------


async def test_a_second_join_token_for_a_seated_player_closes_the_first_connection(game_server: GameServer,
                                                                                   mint: Any) -> None:
    first, welcome, _ = await join(game_server, mint("twice", "dup"))
    second, again, _ = await join(game_server, mint("twice", "dup"))
    assert again["player"] == welcome["player"]
    assert await close_frame(first) == (frames.CLOSE_POLICY, "replaced by a newer connection")
    seat = game_server.rooms[MatchId("dup")].by_player[PlayerId("twice")]
    assert seat.link is not None and seat.dropped_at is None  # the newer connection holds it
    stale = await RawClient.open(game_server.port)
    stale.send(play.encode_join(resume=welcome["resume"]))  # the first connection's resume token is spent
    assert (await stale.recv_msg("error"))["code"] == p.RESUME_REJECTED
    second.send(envelope.encode_ping(1))
    assert (await second.recv_msg("pong"))["id"] == 1
    second.close()


# --- errors -------------------------------------------------------------------------------


async def test_an_oversized_message_gets_too_large_before_the_close(game_server: GameServer, mint: Any) -> None:
    c, _, _ = await join(game_server, mint("big", "big"))
    c.send(b"\x00" * 10_000)
    err = await c.recv_msg("error")
    assert err["code"] == p.TOO_LARGE
    assert await c.close_code() == frames.CLOSE_TOO_BIG


async def test_long_strings_are_refused_by_field(game_server: GameServer, mint: Any) -> None:
    c = await RawClient.open(game_server.port)
    c.send(msgpack.packb({"t": "ping", "id": 1, "note": "n" * 3000}))  # unknown keys are ignored, at any length
    assert (await c.recv_msg("pong"))["id"] == 1
    c.send(msgpack.packb({"t": "join", "v": 1, "token": "x" * 3000}))
    err = await c.recv_msg("error")
    assert err["code"] == p.BAD_FIELD and "token" in err["msg"]
    c.send(msgpack.packb({"t": "join", "v": 1, "resume": "r" * 65}))
    err = await c.recv_msg("error")
    assert err["code"] == p.BAD_FIELD and "resume" in err["msg"]
    c.close()


async def test_a_join_without_the_integer_version_is_refused_and_closed(game_server: GameServer,
                                                                         mint: Any) -> None:
    for version in (None, "1", 1.0, True, 2):
        c = await RawClient.open(game_server.port)
        msg: dict[str, Any] = {"t": "join", "token": mint("v", "ver")}
        if version is not None:
            msg["v"] = version
        c.send(msgpack.packb(msg))
        assert (await c.recv_msg("error"))["code"] == p.UNSUPPORTED_VERSION, version
        assert await c.close_code() == frames.CLOSE_POLICY
    assert MatchId("ver") not in game_server.rooms  # nothing was created


async def test_ping_and_leave_before_join(game_server: GameServer) -> None:
    c = await RawClient.open(game_server.port)
    c.send(envelope.encode_ping(5))
    pong = await c.recv_msg("pong")
    assert pong["id"] == 5 and pong["sts"] > 0 and "ts" not in pong  # no ts in the ping: none in the pong
    c.send(envelope.encode_ping(6, 1234))
    assert (await c.recv_msg("pong"))["ts"] == 1234
    c.send(envelope.encode_leave())
    assert await c.close_code() == frames.CLOSE_NORMAL
