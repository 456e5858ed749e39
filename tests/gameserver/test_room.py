"""The room engine without sockets: inputs, acknowledgements, lifecycle, deltas."""

from __future__ import annotations

from elysium.ws import envelope
from elysium.ws.replica import Replica
from gameserver import protocol as p
from gameserver.lifecycle import RoomState
from gameserver.room import MatchId, PlayerId, Room, RoomSpec, TickOutput


def room(**kw: object) -> Room:
    args: dict[str, object] = {"seats": 4, "min_players": 2, **kw}
    spec = RoomSpec(match_id=MatchId("m"), mode="arena", tick_hz=20, seed=1, **args)  # type: ignore[arg-type]
    return Room(spec, server_id="s", now=0.0, wall_us=0, grace_s=5.0, linger_s=1.0)


def state_of(r: Room) -> RoomState:
    """The room's state now. Type checkers keep an assert's narrowing of ``r.state`` across the
    ``tick`` that changes it, so a later assert on ``r.state`` would look unreachable to them."""
    return r.state


def test_a_bunched_backlog_of_inputs_is_merged_into_the_newest_keeping_a_shot() -> None:
    r = room()
    a = r.admit(PlayerId("a"), "a", object(), 0.0)
    r.admit(PlayerId("b"), "b", object(), 0.0)
    r.tick(0.05, 1)  # starts the match
    inputs = tuple(p.Input(seq, 0.0, 0.0, 0.0, seq == 2) for seq in range(1, 7))
    assert r.push_inputs(a, inputs) == (6, 0)
    r.tick(0.10, 2)
    assert a.last_applied == 6 and not a.queue  # 1..5 were dropped; the shot in 2 rides on 6
    assert a.last_input[4] is True  # fire
    assert r.push_inputs(a, (p.Input(6, 0.0, 0.0, 0.0, False),)) == (0, 0)  # a resend is ignored


def acks_of(out: TickOutput) -> dict[int, int]:
    assert out.delta is not None
    return {seat: seq for seat, seq in envelope.unpack(out.delta).get("a", ())}


def test_early_and_late_joiners_get_their_inputs_applied_in_the_next_tick() -> None:
    """Inputs sent while the room waits leave no backlog: an input that arrives before a tick is
    applied (and acknowledged) in that tick, for the first joiner as for the last."""
    r = room(seats=3, min_players=3)
    early = r.admit(PlayerId("early"), "early", object(), 0.0)
    seq = {0: 0, 1: 0, 2: 0}
    seats = [early]
    t = 0.0
    for k in range(1, 30):  # the early joiner sends an input every tick while the room waits
        t = k * 0.05
        seq[0] += 1
        r.push_inputs(early, (p.Input(seq[0], 1.0, 0.0, 0.0, False),))
        if k == 10:
            seats.append(r.admit(PlayerId("mid"), "mid", object(), t))
        if k >= 10:
            seq[1] += 1
            r.push_inputs(seats[1], (p.Input(seq[1], 0.0, 1.0, 0.0, False),))
        r.tick(t, k)
    assert r.state is RoomState.WAITING  # three seats, two players: it waits for the start timeout
    seats.append(r.admit(PlayerId("late"), "late", object(), t))
    for k in range(30, 60):  # the last joiner fills the room; everyone sends one input per tick
        t = k * 0.05
        for s in seats:
            seq[s.index] += 1
            r.push_inputs(s, (p.Input(seq[s.index], 0.0, -1.0, 0.0, False),))
        out = r.tick(t, k)
        assert state_of(r) is RoomState.RUNNING
        assert acks_of(out) == seq  # every seat's input of this tick is acknowledged in this tick
        assert all(not s.queue for s in seats)


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


class DocReplica:
    """A replica written from docs/protocol.md's wording alone: a keyframe replaces the whole
    replica; a delta whose ``n`` is less than the replica's tick is stale and skipped; any other
    delta overwrites the seats' motion (``p``) and status (``s``) columns, removes ``gone``
    seats, adds ``o+`` objects (by id), removes ``o-`` ids and sets the acks (``a``)."""

    def __init__(self, motion: int, *, skip_equal: bool = False) -> None:
        self.motion = motion
        self.skip_equal = skip_equal  # the earlier wording: a delta with n not greater is stale
        self.tick = -1  # an empty replica, as a stream from the match's first entry begins
        self.players: dict[int, list[int]] = {}
        self.objects: dict[int, list[int]] = {}
        self.acks: dict[int, int] = {}

    def apply(self, data: bytes) -> None:
        msg = envelope.unpack(data)
        if msg["t"] == "keyframe":
            self.tick = msg["n"]
            self.players = {row[0]: list(row[1:]) for row in msg["players"]}
            self.objects = {row[0]: list(row) for row in msg["objects"]}
            self.acks = {seat: seq for seat, seq in msg["a"]}
        elif msg["t"] == "delta":
            if msg["n"] < self.tick or (self.skip_equal and msg["n"] == self.tick):
                return  # stale
            self.tick = msg["n"]
            for row in msg.get("p", ()):
                self.players.setdefault(row[0], [0] * 9)[: self.motion] = row[1:]
            for row in msg.get("s", ()):
                self.players.setdefault(row[0], [0] * 9)[self.motion:] = row[1:]
            for seat in msg.get("gone", ()):
                self.players.pop(seat, None)
            for row in msg.get("o+", ()):
                self.objects[row[0]] = list(row)
            for ident in msg.get("o-", ()):
                self.objects.pop(ident, None)
            for seat, seq in msg.get("a", ()):
                self.acks[seat] = seq


def server_state(r: Room) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    snap = r.mode.snapshot()
    players = {s: snap.players[s].tolist() for s in range(r.spec.seats) if snap.present[s]}
    return players, {row[0]: row for row in snap.objects.tolist()}


def test_players_joining_a_waiting_room_are_in_every_keyframe_and_every_replica() -> None:
    """Players join a waiting room (one leaves again), the last one starts it: each keyframe holds every seated
    player (the joiner too), and replicas following the doc's stale rule literally (each
    player's from its keyframe, a spectator's from the feed's first entry) hold the server's
    state on every tick, waiting ticks included."""
    r = room(seats=4, min_players=4)
    motion = r.mode.motion_columns
    spectator = DocReplica(motion)
    players: list[DocReplica] = []

    def join(name: str, now: float) -> None:
        seat = r.admit(PlayerId(name), name, object(), now)
        keyframe = envelope.unpack(r.keyframe(0))
        assert sorted(row[0] for row in keyframe["players"]) == sorted(s.index for s in r.occupied())
        assert seat.index in {row[0] for row in keyframe["players"]}
        replica = DocReplica(motion)
        replica.apply(r.keyframe(0))
        assert (replica.players, replica.objects) == server_state(r)
        players.append(replica)

    join("a", 0.0)
    for k in range(1, 120):
        now = k * 0.05
        if k in (5, 6):
            join("b" if k == 5 else "c-left", now)  # two joins while the room waits
        if k == 8:
            r.release(r.by_player[PlayerId("c-left")], "left")
            players.pop()
        if k in (12, 14):
            join("c" if k == 12 else "d", now)  # d fills the room: the match starts in this tick
        for i, seat in enumerate(r.occupied()):
            r.push_inputs(seat, (p.Input(k, 1.0 if (k // 9 + i) % 2 else -1.0, 0.4, 0.5 * i, k % 5 == 0),))
        out = r.tick(now, k)
        for data in (out.delta, out.keyframe):
            if data is not None:
                for replica in (*players, spectator):
                    replica.apply(data)
        expected = server_state(r)
        for replica in (*players, spectator):
            assert (replica.players, replica.objects) == expected, f"tick {r.tick_number} (call {k})"
            if r.state is RoomState.RUNNING:
                assert replica.acks == {s.index: s.last_applied for s in r.occupied()}
    assert r.state is RoomState.RUNNING and r.tick_number > 100 and len(players) == 4


def test_a_client_skipping_waiting_deltas_is_whole_from_the_first_running_tick() -> None:
    """The first running delta lists every seated player in full, so a client that followed the
    earlier wording of the stale rule (skipping the waiting room's n = 0 deltas) catches up."""
    r = room(seats=3, min_players=3)
    r.admit(PlayerId("a"), "a", object(), 0.0)
    old = DocReplica(r.mode.motion_columns, skip_equal=True)
    old.apply(r.keyframe(0))
    r.tick(0.05, 1)
    r.admit(PlayerId("b"), "b", object(), 0.05)
    out = r.tick(0.10, 2)
    assert out.delta is not None and envelope.unpack(out.delta)["n"] == 0
    old.apply(out.delta)
    assert old.players != server_state(r)[0]  # b's row came in an n = 0 delta, skipped
    r.admit(PlayerId("c"), "c", object(), 0.10)
    out = r.tick(0.15, 3)
    assert state_of(r) is RoomState.RUNNING and out.delta is not None
    delta = envelope.unpack(out.delta)
    assert delta["n"] == 1 and sorted(row[0] for row in delta["p"]) == sorted(row[0] for row in delta["s"]) == [0, 1, 2]
    old.apply(out.delta)
    assert (old.players, old.objects) == server_state(r)
