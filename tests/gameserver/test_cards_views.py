"""Per-seat views in the room engine, without sockets: each seat's frames hold only what it may
see, views are encoded once per distinct view, and keyframe + deltas rebuild each view."""

from __future__ import annotations

from typing import Any

import pytest

from elysium.ws import envelope
from elysium.ws.replica import Replica
from gameserver.modes import cards_rules as r
from gameserver.modes.cards import PUBLIC, Cards, Move
from gameserver.room import MatchId, PlayerId, Room, RoomSpec, Seat

HZ = 10


def cards_room(seats: int = 3, **options: Any) -> Room:
    spec = RoomSpec(match_id=MatchId("c"), mode="cards", tick_hz=HZ, seed=5, seats=seats, min_players=seats,
                    options={"turn_time_s": 0.5, "pause_s": 0.2, "score_limit": 1000, **options})
    return Room(spec, server_id="s", now=0.0, wall_us=0, grace_s=5.0, linger_s=0.5)


def replica_for(room: Room) -> Replica:
    return Replica(motion=room.mode.motion_columns, width=len(room.mode.player_columns))


def hand_cards(objects: dict[int, list[int]], owner: int | None = None) -> set[int]:
    return {row[3] for row in objects.values() if row[1] == r.HAND and (owner is None or row[2] == owner)}


def test_each_seat_sees_its_own_hand_only_and_views_are_encoded_once() -> None:
    room = cards_room()
    seats: list[Seat] = [room.admit(PlayerId(f"p{i}"), f"p{i}", object(), 0.0) for i in range(3)]
    replicas = {s.index: replica_for(room) for s in seats}
    for s in seats:
        replicas[s.index].apply(envelope.unpack(room.keyframe(0, s)))
    full = replica_for(room)
    full.apply(envelope.unpack(room.keyframe(0)))
    mode = room.mode
    assert isinstance(mode, Cards)
    quiet_ticks = shared_ticks = 0
    t = 0.0
    before = {s.index: mode.view_key(s.index) for s in seats}
    for _ in range(3000):
        t += 1 / HZ
        out = room.tick(t, int(t * 1e6))
        if out.views is None:
            break
        encodes = {id(data) for data, _ in out.views}
        now = {s.index: mode.view_key(s.index) for s in seats}
        keys = set(now.values())
        # Once per distinct view (and per view a seat comes from, the tick its view changes),
        # never once per client when views coincide.
        assert len(encodes) <= len({(before[i], now[i]) for i in now})
        if before == now and len(keys) < len(seats):
            assert len(encodes) <= len(keys)
            shared_ticks += 1
        before = now
        if len(encodes) == 1 and len(keys) > 1:
            quiet_ticks += 1  # nothing changed: every seat got the same bytes
        for data, group in out.views:
            msg = envelope.unpack(data)
            for s in group:
                replicas[s.index].apply(msg)
        if out.delta is not None:
            full.apply(envelope.unpack(out.delta))
        for s in seats:
            seen = replicas[s.index].objects
            assert hand_cards(seen) == hand_cards(seen, s.index)  # no other seat's hidden card
            assert all(row[1] != r.STOCK for row in seen.values())
            assert hand_cards(seen) == set(mode.game.hands.get(s.index, []))
            assert replicas[s.index].players == full.players
        assert hand_cards(full.objects) == {c for h in mode.game.hands.values() for c in h}
    assert room.result is not None and room.result.reason == "rounds"
    assert quiet_ticks > 0 and shared_ticks > 0


def test_seats_without_cards_share_one_view() -> None:
    room = cards_room(seats=2)
    a = room.admit(PlayerId("a"), "a", object(), 0.0)
    b = room.admit(PlayerId("b"), "b", object(), 0.0)
    assert room.mode.view_key(a.index) == room.mode.view_key(b.index) == PUBLIC  # nothing dealt yet
    room.keyframe(0, a)
    room.keyframe(0, b)
    assert a.view is b.view  # one keyframe encoded for both
    out = room.tick(0.1, 1)  # starts the match
    out = room.tick(0.2, 2)  # deals
    assert out.views is not None
    assert len(out.views) == 2 and all(len(group) == 1 for _, group in out.views)


def test_a_full_view_keyframe_holds_every_card_and_a_seats_keyframe_only_its_hand() -> None:
    room = cards_room(seats=2)
    a = room.admit(PlayerId("a"), "a", object(), 0.0)
    room.admit(PlayerId("b"), "b", object(), 0.0)
    room.tick(0.1, 1)
    room.tick(0.2, 2)
    full = envelope.unpack(room.keyframe(3))
    assert len(full["objects"]) == r.DECK
    mine = envelope.unpack(room.keyframe(3, a))
    kinds = [row[1] for row in mine["objects"]]
    assert kinds.count(r.HAND) == 5 and r.STOCK not in kinds
    assert all(row[2] == a.index for row in mine["objects"] if row[1] == r.HAND)


def test_moves_are_played_refusals_reach_their_player_alone_and_hands_stay_hidden() -> None:
    room = cards_room(seats=2, turn_time_s=30.0)
    a = room.admit(PlayerId("a"), "a", object(), 0.0)
    b = room.admit(PlayerId("b"), "b", object(), 0.0)
    room.tick(0.1, 1)
    room.tick(0.2, 2)  # dealt
    mode = room.mode
    assert isinstance(mode, Cards)
    game = mode.game
    first = game.turn
    leader, other = (a, b) if first == a.index else (b, a)
    seq = {a.index: 0, b.index: 0}

    def send(seat: Seat, card: int) -> None:
        seq[seat.index] += 1
        room.push_inputs(seat, (Move(seq[seat.index], card),))

    early = game.hands[other.index][0]
    send(other, early)  # not its turn
    lead = game.hands[leader.index][0]
    send(leader, lead)
    out = room.tick(0.3, 3)
    assert [(s.index, envelope.unpack(data)["e"]) for s, data in out.private] == [
        (other.index, [{"k": "refused", "who": other.index, "card": early, "why": r.NOT_YOUR_TURN}])]
    events = envelope.unpack(out.events)["e"] if out.events else []
    assert {"k": "play", "who": leader.index, "card": lead} in events
    assert not any(e["k"] == "refused" for e in events)  # refusals are never public
    # A card the seat does not hold: refused, nothing changes.
    foreign = next(c for c in range(r.DECK) if c not in game.hands[other.index] and c != lead)
    before = (list(game.hands[other.index]), list(game.trick))
    send(other, foreign)
    out = room.tick(0.4, 4)
    assert envelope.unpack(out.private[0][1])["e"][0]["why"] == r.NOT_IN_HAND
    assert (game.hands[other.index], game.trick) == before
    # The frames each seat gets never hold the other's hand.
    for data, group in out.views or []:
        msg = envelope.unpack(data)
        for seat in group:
            assert all(row[2] == seat.index for row in msg.get("o+", []) if row[1] == r.HAND)


def test_a_card_outside_the_deck_is_a_bad_field_and_never_reaches_the_mode() -> None:
    from elysium.ws.envelope import ProtocolViolation
    from gameserver.modes.cards import INPUT

    assert INPUT.decode_rows([[1, 31], [2, -1]], 16) == (Move(1, 31), Move(2, -1))
    for bad in ([[1, 32]], [[1, -2]], [[1, 1.0]], [[1, "3"]], [[1]]):
        with pytest.raises(ProtocolViolation) as refused:
            INPUT.decode_rows(bad, 16)
        assert refused.value.code == "bad_field"
