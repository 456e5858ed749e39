"""The engine and a mode: isolation of a mode that raises, the optional hooks, options and the welcome.

Rooms are driven without sockets; the modes are the example ``tug`` and the deliberately
broken ones of ``tests.modes.broken``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pytest

from elysium.modes import ChoiceOption, Event, JoinRejected, OptionValue, ResultRow, StepOutcome
from elysium.results import MatchResult
from elysium.ws import envelope
from gameserver import protocol as p
from gameserver.lifecycle import RoomState
from gameserver.room import JoinRefused, MatchId, PlayerId, Room, RoomSpec, TickOutput, tick_rooms
from tests.modes.broken import Fragile, FragileBatch
from tests.modes.tug import Pull, Tug

def make(mode: type[Tug], match: str = "m", seats: int = 2, **options: Any) -> Room:
    spec = RoomSpec(match_id=MatchId(match), mode=mode.name, tick_hz=20, seed=1, seats=seats, teams=2,
                    min_players=seats, options=mode.configure(seats=seats, tick_hz=20, seed=1, teams=2,
                                                              options=options).options)
    return Room(spec, server_id="s", now=0.0, wall_us=0, grace_s=5.0, linger_s=0.5, mode_class=mode)

def fill(room: Room, seats: int = 2) -> None:
    for i in range(seats):
        room.admit(PlayerId(f"{room.spec.match_id}-p{i}"), f"p{i}", object(), 0.0)

def events_of(out: TickOutput) -> list[dict[str, Any]]:
    return envelope.unpack(out.events)["e"] if out.events is not None else []

def run(rooms: Sequence[Room], ticks: int, start: int = 1) -> list[list[TickOutput]]:
    outs: list[list[TickOutput]] = []
    for k in range(start, start + ticks):
        for room in rooms:
            for seat in room.occupied():
                room.push_inputs(seat, (Pull(k, 1 + seat.index),))
        outs.append(tick_rooms(rooms, k * 0.05, k * 50_000))
    return outs

def results_of(outs: list[list[TickOutput]], index: int) -> list[MatchResult]:
    return [r for o in outs if (r := o[index].result) is not None]

# --- isolation ---------------------------------------------------------------------------------

def test_a_mode_that_raises_in_step_ends_only_its_room_with_an_error_result(
        caplog: pytest.LogCaptureFixture) -> None:
    broken, healthy = make(Fragile, "broken", explode_at=5), make(Tug, "healthy", rope_m=100)
    fill(broken)
    fill(healthy)
    with caplog.at_level(logging.ERROR, logger="gameserver.room"):
        outs = run([broken, healthy], 40)
    [result] = results_of(outs, 0)
    assert result.reason == "error" and result.mode == "fragile" and {r.seat for r in result.players} == {0, 1}
    assert MatchResult.parse(result.encode()) == result  # the shared result, as consumers read it
    assert broken.state is RoomState.DISPOSED and broken.failure == "step"
    assert any(e["k"] == "end" and e["reason"] == "error" for o in outs for e in events_of(o[0]))
    # The other room ticked on: a delta every tick, its mode stepped forty times.
    assert all(o[1].delta is not None for o in outs) and healthy.prev.tick == 40
    assert healthy.state is RoomState.RUNNING and not results_of(outs, 1)
    [record] = [r for r in caplog.records if r.getMessage().startswith("game mode raised")]
    assert record.exc_info is not None and "step blew up on purpose" in str(record.exc_info[1])
    assert getattr(record, "match_id") == "broken" and getattr(record, "during") == "step"

def test_a_vectorised_step_many_that_raises_is_retried_room_by_room() -> None:
    """The culprit is found by stepping each room of the batch alone; the others go on."""
    FragileBatch.batches.clear()
    rooms = [make(FragileBatch, f"r{i}", explode_at=5 if i == 1 else 0, rope_m=100) for i in range(3)]
    for room in rooms:
        fill(room)
    outs = run(rooms, 20)
    assert FragileBatch.batches[:4] == [3, 3, 3, 3] and FragileBatch.batches[4] == 3  # the failing batch
    assert FragileBatch.batches[5:] == [2] * 15  # afterwards: the two healthy rooms, batched again
    assert [r.reason for r in results_of(outs, 1)] == ["error"]
    for i in (0, 2):
        assert rooms[i].state is RoomState.RUNNING and rooms[i].prev.tick == 20 and not results_of(outs, i)

def test_a_mode_that_raises_in_a_hook_refuses_the_join_and_ends_its_room() -> None:
    room = make(Fragile, explode_in_join=True)
    with pytest.raises(JoinRefused) as err:
        room.admit(PlayerId("a"), "a", object(), 0.0)
    assert err.value.code == p.ROOM_CLOSED and room.failure == "join"
    assert room.state is RoomState.DISPOSED and room.end_reason == "error"  # nobody played: no result

@pytest.mark.parametrize("bad_row", [
    ResultRow(seat=0, score=1, team=7),  # a team the room does not have
    ResultRow(seat=0, score=1, team=0, time_played_s=-1.0),  # negative time
])
def test_results_that_are_not_a_valid_match_result_end_the_match_with_error(bad_row: ResultRow) -> None:
    class Garbled(Tug):
        name: ClassVar[str] = "garbled"

        def results(self) -> list[ResultRow]:
            return [bad_row, *(r for r in super().results() if r.seat != 0)]

    room, other = make(Garbled, "garbled", rope_m=1), make(Tug, "other", rope_m=100)
    fill(room)
    fill(other)
    outs = run([room, other], 60)  # one metre of rope is soon won: the garbled results are read
    [result] = results_of(outs, 0)
    assert result.reason == "error" and sorted(r.seat for r in result.players) == [0, 1]
    assert all(r.score == 0 for r in result.players) and room.failure == "results"
    assert other.state is RoomState.RUNNING and other.prev.tick == 60


def test_a_step_that_finishes_with_an_undeclared_reason_is_the_modes_error() -> None:
    class Sloppy(Tug):
        name: ClassVar[str] = "sloppy"

        def step(self, inputs: Mapping[int, Pull]) -> StepOutcome:
            out = super().step(inputs)
            out.finished = "because"
            return out

    room = make(Sloppy)
    fill(room)
    [result] = results_of(run([room], 3), 0)
    assert result.reason == "error"

# --- options --------------------------------------------------------------------------------------

def test_options_reach_the_mode_and_the_welcome() -> None:
    room = make(Tug, rope_m=1)
    fill(room)
    seat = next(iter(room.occupied()))
    welcome = envelope.unpack(room.welcome(seat))
    assert welcome["options"] == {"rope_m": 1, "time_limit_s": 60.0} and welcome["api"] == 1
    assert welcome["input"] == Tug.input_schema.to_json() and welcome["columns"] == Tug.column_layout()
    assert welcome["map"] == {"rope_m": 1, "time_limit_s": 60.0}
    outs = run([room], 40)
    assert [r.reason for r in results_of(outs, 0)] == ["rope"]  # one metre of rope: over quickly

# --- the optional hooks -----------------------------------------------------------------------------

class Hooked(Tug):
    """Tug with every optional hook, recording what the engine called."""

    name: ClassVar[str] = "hooked"
    join_choice = (ChoiceOption("side", "which end of the rope", choices=("north", "south"), default="north"),)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.calls: list[tuple[Any, ...]] = []

    def check_join(self, seat: int, team: int, choice: Mapping[str, OptionValue]) -> int:
        self.calls.append(("check_join", seat, team, dict(choice)))
        side = 0 if choice["side"] == "north" else 1
        if sum(1 for _ in range(self.config.seats) if self.present[_] and self.rows[_, 1] == side) >= 1:
            raise JoinRejected(f"the {choice['side']} end is taken")
        return side

    def on_events(self, tick: int, events: Sequence[Event]) -> list[Event]:
        kinds = [e["k"] for e in events]
        self.calls.append(("on_events", tick, kinds))
        return [{"k": "tally", "n": len(kinds)}] if "drop" in kinds else []

    def on_drop(self, seat: int) -> None:
        self.calls.append(("on_drop", seat))

    def on_reconnect(self, seat: int) -> None:
        self.calls.append(("on_reconnect", seat))

    def on_end(self, reason: str) -> list[Event]:
        self.calls.append(("on_end", reason))
        return [{"k": "knot", "cm": self.knot_cm}]

def hooked(room: Room) -> Hooked:
    assert isinstance(room.mode, Hooked)
    return room.mode

def test_join_validation_takes_the_choice_and_may_refuse_the_join() -> None:
    room = make(Hooked)
    a = room.admit(PlayerId("a"), "a", object(), 0.0, {"side": "south"})
    assert a.team == 1 and hooked(room).calls == [("check_join", 0, 0, {"side": "south"})]
    with pytest.raises(JoinRefused) as err:
        room.admit(PlayerId("b"), "b", object(), 0.0, {"side": "south"})
    assert err.value.code == p.JOIN_REJECTED and err.value.message == "the south end is taken"
    with pytest.raises(JoinRefused) as err:
        room.admit(PlayerId("b"), "b", object(), 0.0, {"side": "east"})  # outside the declaration
    assert err.value.code == p.JOIN_REJECTED and err.value.message.startswith("choice.side must be one of")
    with pytest.raises(JoinRefused):
        room.admit(PlayerId("b"), "b", object(), 0.0, {"colour": "red"})  # not declared at all
    assert room.players == 1  # refusals changed nothing
    b = room.admit(PlayerId("b"), "b", object(), 0.0)  # no choice: the declared default
    assert b.team == 0 and hooked(room).calls[-1] == ("check_join", 1, 1, {"side": "north"})

def test_join_validation_runs_for_a_mode_that_declares_no_choice() -> None:
    class Balanced(Tug):
        name: ClassVar[str] = "balanced"

        def check_join(self, seat: int, team: int, choice: Mapping[str, OptionValue]) -> int:
            if choice:
                raise AssertionError("no choice is declared, so none reaches the mode")
            return 1 - team  # seats everyone on the other team than the engine's pick

    room = make(Balanced)
    assert room.admit(PlayerId("a"), "a", object(), 0.0).team == 1
    with pytest.raises(JoinRefused) as err:
        room.admit(PlayerId("b"), "b", object(), 0.0, {"side": "north"})  # nothing may be chosen
    assert err.value.code == p.JOIN_REJECTED and "not an option" in err.value.message


def test_per_tick_events_drop_reconnect_and_end_hooks() -> None:
    room = make(Hooked, rope_m=100, time_limit_s=1.0)
    a = room.admit(PlayerId("a"), "a", object(), 0.0, {"side": "north"})
    room.admit(PlayerId("b"), "b", object(), 0.0, {"side": "south"})
    outs = run([room], 3)
    mode = hooked(room)
    assert ("on_events", 1, ["join", "join", "start"]) in mode.calls  # the first step sees the joins and start
    room.drop(a, 0.2)
    room.reattach(a, object())
    more = run([room], 30, start=4)
    assert ("on_drop", 0) in mode.calls and ("on_reconnect", 0) in mode.calls
    assert any(e == {"k": "tally", "n": 2} for o in more for e in events_of(o[0]))  # drop, back
    assert [c for c in mode.calls if c[0] == "on_end"] == [("on_end", "time")]
    end_events = [e for o in outs + more for e in events_of(o[0]) if e["k"] in ("knot", "end")]
    assert [e["k"] for e in end_events] == ["knot", "end"]  # the mode's end events come before the end

from elysium.modes import StepOutcome  # noqa: E402  (used by a class defined in a test above)
