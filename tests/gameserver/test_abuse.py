"""Bad and hostile input against a live server: clear errors, closes on repeat, no crash."""

from __future__ import annotations

import asyncio
from typing import Any

import msgpack

from elysium.ws import envelope, frames, play
from gameserver import protocol as p
from gameserver.client import GameClient
from gameserver.server import GameServer
from gameserver.spec import MatchId, PlayerId
from tests.gameserver.conftest import url
from tests.gameserver.rawclient import RawClient
from tests.waiting import until


async def joined(server: GameServer, mint: Any, player: str = "p1", match: str = "m1") -> RawClient:
    c = await RawClient.open(server.port)
    c.send(play.encode_join(token=mint(player, match)))
    assert (await c.recv_msg())["t"] == "welcome"
    await c.recv_msg("keyframe")
    return c


async def still_serves(server: GameServer, mint: Any) -> None:
    """The process and its rooms survived: a fresh player can still join and ping."""
    c = await joined(server, mint, "survivor", "survival")
    c.send(envelope.encode_ping(9))
    assert (await c.recv_msg("pong"))["id"] == 9
    c.close()


async def test_malformed_msgpack_unknown_type_and_bad_values_get_error_frames(game_server: GameServer,
                                                                              mint: Any) -> None:
    c = await joined(game_server, mint)
    for payload, code in [
        (b"\xc1\xc1", p.BAD_FRAME),
        (msgpack.packb({"t": "teleport"}), p.UNKNOWN_TYPE),
        (msgpack.packb({"t": "input", "i": [[1, 5.0, 0, 0, False]]}), p.BAD_FIELD),
    ]:
        c.send(payload)
        err = await c.recv_msg("error")
        assert err["code"] == code and err["msg"]
    room = game_server.rooms[MatchId("m1")]
    assert room.by_player[PlayerId("p1")].last_enqueued == -1  # nothing was applied
    c.send(play.encode_inputs([p.Input(1, 0.5, 0.0, 0.0, False)]))  # a good input still works
    await until(lambda: room.by_player[PlayerId("p1")].last_enqueued == 1, what="the good input applied")
    c.close()
    await still_serves(game_server, mint)


async def test_text_frames_and_input_before_join_are_refused(game_server: GameServer) -> None:
    c = await RawClient.open(game_server.port)
    c.send(b'{"t":"join"}', frames.OP_TEXT)
    assert (await c.recv_msg("error"))["code"] == p.TEXT_FRAME
    c.send(play.encode_inputs([p.Input(1, 0, 0, 0, False)]))
    assert (await c.recv_msg("error"))["code"] == p.NOT_JOINED
    c.close()


async def test_repeated_abuse_closes_the_connection(server_factory: Any, mint: Any, cleanup_servers: None) -> None:
    server = await server_factory(abuse_limit=3)
    c = await joined(server, mint)
    for _ in range(6):
        c.send(b"\xc1")
    assert await c.close_code() == frames.CLOSE_POLICY
    assert server.metrics.rejected_inputs.labels(p.BAD_FRAME)._value.get() >= 4
    await still_serves(server, mint)


async def test_oversized_frame_is_refused_and_closed(game_server: GameServer, mint: Any) -> None:
    c = await joined(game_server, mint)
    c.send(b"\x00" * 10_000)
    assert await c.close_code() == frames.CLOSE_TOO_BIG
    await still_serves(game_server, mint)


async def test_garbage_bytes_break_framing_and_close(game_server: GameServer, mint: Any) -> None:
    c = await joined(game_server, mint)
    c.send_raw(b"\xff\xff\xff\xff\xff\xff")
    assert await c.close_code() == frames.CLOSE_PROTOCOL_ERROR
    await still_serves(game_server, mint)


async def test_input_flood_is_rate_limited(server_factory: Any, mint: Any, cleanup_servers: None) -> None:
    server = await server_factory(max_inputs_per_s=20, abuse_limit=1000)
    c = await joined(server, mint)
    for seq in range(1, 101):  # 100 inputs at once, 5 s worth at the cap
        c.send(play.encode_inputs([p.Input(seq, 0.0, 0.0, 0.0, False)]))
    err = await c.recv_msg("error")
    assert err["code"] == p.RATE_LIMITED
    rejected = server.metrics.rejected_inputs.labels("rate")._value
    await until(lambda: rejected.get() >= 70, what="the flood read and refused")
    seat = server.rooms["m1"].by_player["p1"]
    assert seat.last_enqueued <= 25  # at most the burst got through
    assert server.metrics.rejected_inputs.labels("rate")._value.get() >= 70
    c.close()


async def test_bad_join_tokens_are_refused(game_server: GameServer, mint: Any, join_signer: Any) -> None:
    from elysium import tokens as t

    cases = [
        ("not-a-jwt", p.TOKEN_REJECTED),
        (mint("p1", server="another-server"), p.WRONG_SERVER),
        (mint("p1", ttl_s=120), p.TOKEN_REJECTED),  # lives longer than 60 s
        (join_signer.issue("p1", t.PLAYER_AUDIENCE, 30, {"mid": "m1", "srv": "test-gs-1", "room": {}}),
         p.TOKEN_REJECTED),  # an access token is not a join token
        (join_signer.issue("p1", t.JOIN_AUDIENCE, 30, {"mid": "m1", "srv": "test-gs-1",
                                                        "room": {"mode": "golf"}}), p.TOKEN_REJECTED),
        (join_signer.issue("p1", t.JOIN_AUDIENCE, 30, {"mid": "m1", "srv": "test-gs-1",
                                                        "room": {"seats": 100000}}), p.TOKEN_REJECTED),
    ]
    for token, code in cases:
        c = await RawClient.open(game_server.port)
        c.send(play.encode_join(token=token))
        err = await c.recv_msg("error")
        assert err["code"] == code, (err, token[:20])
        assert await c.close_code() == frames.CLOSE_POLICY
    assert game_server.rooms == {}  # nothing was created


async def test_expired_and_foreign_tokens(game_server: GameServer, keys_dir: Any) -> None:
    import time

    from elysium import tokens as t
    from elysium import devtokens

    other = t.Signer(t.Ed25519PrivateKey.generate(), "someone") if hasattr(t, "Ed25519PrivateKey") else None
    assert other is not None
    room = devtokens.room_claim(seats=2)
    forged = devtokens.mint_join(other, match_id="m1", player_id="p1", server_id="test-gs-1", room=room)
    signer = t.Signer(t.load_private_key(path=str(keys_dir / "join.key")), "x")
    expired = signer.issue("p1", t.JOIN_AUDIENCE, 10, {"mid": "m1", "srv": "test-gs-1", "room": room},
                           now=time.time() - 60)
    for token in (forged, expired):
        c = await RawClient.open(game_server.port)
        c.send(play.encode_join(token=token))
        assert (await c.recv_msg("error"))["code"] == p.TOKEN_REJECTED
        c.close()


async def test_join_tokens_are_single_use(game_server: GameServer, mint: Any) -> None:
    token = mint("p1")
    first = await RawClient.open(game_server.port)
    first.send(play.encode_join(token=token))
    assert (await first.recv_msg())["t"] == "welcome"
    second = await RawClient.open(game_server.port)
    second.send(play.encode_join(token=token))
    assert (await second.recv_msg("error"))["code"] == p.TOKEN_REUSED
    first.close()
    second.close()


async def test_roster_and_capacity_are_enforced(game_server: GameServer, mint: Any) -> None:
    roster = {"roster": ["a", "b"], "seats": 2}
    a = GameClient(url(game_server))
    assert (await a.join(mint("a", "r1", **roster)))["t"] == "welcome"
    stranger = GameClient(url(game_server))
    assert (await stranger.join(mint("zed", "r1", **roster)))["code"] == p.NOT_IN_ROSTER
    full = GameClient(url(game_server))
    await full.join(mint("b", "r2", seats=1, min_players=1))
    extra = GameClient(url(game_server))
    assert (await extra.join(mint("c", "r2", seats=1, min_players=1)))["code"] == p.ROOM_FULL
    for c in (a, stranger, full, extra):
        await c.close()


async def test_a_client_that_does_not_read_is_skipped_then_gets_a_keyframe(
        server_factory: Any, mint: Any, cleanup_servers: None) -> None:
    server = await server_factory(send_buffer_skip_bytes=1024, send_buffer_close_bytes=1 << 30,
                                  socket_send_buffer_bytes=4096, max_inputs_per_s=1000)
    reader = GameClient(url(server))
    await reader.join(mint("reader", "slow", seats=2))
    sleeper = await RawClient.open(server.port, rcvbuf=4096)
    sleeper.send(play.encode_join(token=mint("sleeper", "slow", seats=2)))
    sleeper.pause_reading()
    await until(lambda: "slow" in server.rooms and "sleeper" in server.rooms["slow"].by_player,
                what="the sleeper seated")
    for i in range(900):  # ask for far more pongs than it reads: its buffers fill up
        sleeper.send(envelope.encode_ping(i, 2**62))
    dropped = server.metrics.frames_dropped._value
    # Every tick carries traffic: the reader keeps moving back and forth.
    for seq in range(1, 400):
        await reader.send_input(1.0 if seq % 40 < 20 else -1.0, 0.0, 0.0, False)
        await asyncio.sleep(0.02)  # paces the reader's inputs, about one a tick
        if dropped.get() > 5:
            break
    assert dropped.get() > 5
    # The room kept ticking for the reader meanwhile.
    latest = await reader.expect("delta")
    while latest["n"] < 10:
        latest = await reader.expect("delta")
    skipped_at = server.rooms["slow"].tick_number
    sleeper.resume_reading()
    while True:  # the backlog drains, then a keyframe replaces the deltas it missed
        msg = await sleeper.recv_msg()
        if msg["t"] == "keyframe" and msg["n"] >= skipped_at:
            break
    # After the keyframe it follows deltas again, tick by tick.
    follow = await sleeper.recv_msg("delta")
    assert follow["n"] == msg["n"] + 1
    sleeper.close()
    await reader.close()


async def test_a_client_far_behind_is_closed(server_factory: Any, mint: Any, cleanup_servers: None) -> None:
    server = await server_factory(send_buffer_skip_bytes=1024, send_buffer_close_bytes=1 << 30,
                                  socket_send_buffer_bytes=4096, max_inputs_per_s=1000, slow_client_timeout_s=0.5)
    sleeper = await RawClient.open(server.port, rcvbuf=4096)
    sleeper.send(play.encode_join(token=mint("sleeper", "slow", seats=2)))
    sleeper.pause_reading()
    await until(lambda: "slow" in server.rooms and "sleeper" in server.rooms["slow"].by_player,
                what="the sleeper seated")
    for i in range(900):
        sleeper.send(envelope.encode_ping(i, 2**62))
    mover = GameClient(url(server))
    await mover.join(mint("mover", "slow", seats=2))
    closed = server.metrics.slow_closed._value
    for seq in range(400):
        await mover.send_input(1.0 if seq % 40 < 20 else -1.0, 0.0, 0.0, False)
        await asyncio.sleep(0.02)  # paces the mover's inputs, about one a tick
        if closed.get():
            break
    assert closed.get() == 1
    # The dropped player's seat is held for reconnection (once the aborted transport reports
    # its loss, a loop turn or two later); the mover goes on playing.
    seat = server.rooms["slow"].by_player["sleeper"]
    await until(lambda: seat.dropped_at is not None, 5.0, what="the sleeper's seat held")
    assert (await mover.expect("delta"))["t"] == "delta"
    sleeper.close()
    await mover.close()


def padded_ping(ident: int, size: int) -> bytes:
    """A valid ping of exactly ``size`` bytes: unknown keys are ignored, so it is padded with strings."""
    pads = {f"pad{i}": "a" * 1000 for i in range(size // 1100)}  # each well within the string limit
    data = envelope.pack({"t": "ping", "id": ident, **pads})
    pads["pad0"] += "a" * (size - len(data))
    data = envelope.pack({"t": "ping", "id": ident, **pads})
    assert len(data) == size, len(data)
    return data


async def test_max_message_bytes_above_the_default_is_honoured(server_factory: Any, mint: Any,
                                                               cleanup_servers: None) -> None:
    server = await server_factory(max_message_bytes=8192)
    c = await joined(server, mint)
    c.send(padded_ping(7, 6000))  # larger than the 4096 default, within the configured limit
    assert (await c.recv_msg("pong"))["id"] == 7
    c.send(padded_ping(8, 9000))  # over the configured limit: the documented close
    assert await c.close_code() == frames.CLOSE_TOO_BIG
    await still_serves(server, mint)


async def test_the_default_max_message_bytes_refuses_a_6000_byte_message(game_server: GameServer,
                                                                          mint: Any) -> None:
    c = await joined(game_server, mint)
    c.send(padded_ping(7, 6000))
    assert await c.close_code() == frames.CLOSE_TOO_BIG
    await still_serves(game_server, mint)
