"""The room engine without sockets: inputs, acknowledgements, lifecycle, deltas."""

from __future__ import annotations

from elysium.ws import envelope
from elysium.ws.replica import Replica
from gameserver import protocol as p
from gameserver.lifecycle import RoomState
from gameserver.room import MatchId, PlayerId, Room, RoomSpec


def room(**kw: object) -> Room:
    spec = RoomSpec(match_id=MatchId("m"), mode="arena", seats=4, tick_hz=20, seed=1, min_players=2,
                    **kw)  # type: ignore[arg-type]
    return Room(spec, server_id="s", now=0.0, wall_us=0, grace_s=5.0, linger_s=1.0)


def state_of(r: Room) -> RoomState:
    """The room's state now. Type checkers keep an assert's narrowing of ``r.state`` across the
    ``tick`` that changes it, so a later assert on ``r.state`` would look unreachable to them."""
    return r.state


def test_a_bunched_backlog_of_inputs_is_cut_to_two_keeping_a_shot() -> None:
    r = room()
    a = r.admit(PlayerId("a"), "a", object(), 0.0)
    r.admit(PlayerId("b"), "b", object(), 0.0)
    r.tick(0.05, 1)  # starts the match
    inputs = tuple(p.Input(seq, 0.0, 0.0, 0.0, seq == 2) for seq in range(1, 7))
    assert r.push_inputs(a, inputs) == (6, 0)
    r.tick(0.10, 2)
    assert a.last_applied == 5  # 1..4 were dropped; the shot in 2 rides on 5
    assert a.last_input.fire is True
    r.tick(0.15, 3)
    assert a.last_applied == 6 and not a.queue
    assert r.push_inputs(a, (p.Input(6, 0.0, 0.0, 0.0, False),)) == (0, 0)  # a resend is ignored


def test_keyframe_then_deltas_rebuild_the_rooms_state() -> None:
    r = room()
    seats = [r.admit(PlayerId(x), x, object(), 0.0) for x in "abc"]
    replica = Replica()
    replica.apply(envelope.unpack(r.keyframe(0)))
    for t in range(1, 120):
        for i, seat in enumerate(seats):
            r.push_inputs(seat, (p.Input(t, 1.0 if (t // 15 + i) % 2 else -1.0, 0.5, 0.3 * i, t % 7 == 0),))
        out = r.tick(t * 0.05, t)
        for data in (out.delta, out.events):
            if data is not None:
                replica.apply(envelope.unpack(data))
    snap = r.mode.snapshot()
    expected = {int(s): snap.players[s].tolist() for s in range(4) if snap.present[s]}
    assert replica.players == expected
    assert replica.objects == {row[0]: row for row in snap.objects.tolist()}
    assert replica.acks == {s.index: s.last_applied for s in seats}


def test_a_room_everyone_left_ends_and_goes_away() -> None:
    r = room()
    a = r.admit(PlayerId("a"), "a", object(), 0.0)
    b = r.admit(PlayerId("b"), "b", object(), 0.0)
    r.tick(0.05, 1)
    assert r.state is RoomState.RUNNING
    r.release(a, "left")
    r.release(b, "left")
    out = r.tick(0.10, 2)
    assert state_of(r) is RoomState.FINISHED and r.end_reason == "abandoned"
    assert out.result is not None and out.result.reason == "abandoned" and out.result.players == ()
    r.tick(1.5, 3)
    assert state_of(r) is RoomState.DISPOSED


def test_a_room_nobody_fills_is_disposed_after_the_start_timeout() -> None:
    r = room(start_timeout_s=1.0)
    r.admit(PlayerId("a"), "a", object(), 0.0)
    r.tick(0.5, 1)
    assert r.state is RoomState.WAITING
    r.tick(1.01, 2)
    assert state_of(r) is RoomState.DISPOSED and r.end_reason == "not_enough_players"


def test_row_and_array_diffs_agree_on_moves_status_changes_joins_and_leaves() -> None:
    """Small rooms diff row by row, large ones with arrays: both must say the same thing."""
    import numpy as np
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from gameserver.modes.base import Snapshot
    from gameserver.room import _diff_arrays

    seats, columns, motion = 12, 9, 3
    values = st.lists(st.integers(-3, 3), min_size=seats * columns, max_size=seats * columns)
    flags = st.lists(st.booleans(), min_size=seats, max_size=seats)

    @settings(max_examples=300, deadline=None)
    @given(values, values, flags, flags)
    def check(before: list[int], after: list[int], was: list[bool], now: list[bool]) -> None:
        no_objects = np.zeros((0, 7), dtype=np.int32)
        prev = Snapshot(1, np.array(before, dtype=np.int32).reshape(seats, columns), np.array(was), no_objects)
        snap = Snapshot(2, np.array(after, dtype=np.int32).reshape(seats, columns), np.array(now), no_objects)
        r = room()
        rows = r._diff_rows(snap, prev, motion)
        assert rows == _diff_arrays(snap, prev, motion)
        moved, status, gone = rows
        for i in range(seats):
            assert (i in gone) == (was[i] and not now[i])
            fresh = now[i] and not was[i]
            assert any(row[0] == i for row in moved) == (now[i] and (fresh or before[i * columns:i * columns + motion]
                                                                     != after[i * columns:i * columns + motion]))

    check()
