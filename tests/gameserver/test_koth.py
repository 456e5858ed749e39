"""King of the hill in the engine: its declarations, its rooms driven without sockets, its input
schema at the server's edge, and a real server refusing what is not a koth input."""

from __future__ import annotations

import math
import random
import weakref
from typing import Any

import numpy as np
import pytest

from elysium.modes import Snapshot, check_mode, load_modes
from elysium.results import MatchResult
from elysium.testing.modes import CHECKS, Policy, Scenario, _play, run_check
from elysium.ws import envelope
from elysium.ws.replica import Replica
from gameserver import protocol as p
from gameserver.bots import HillBot
from gameserver.client import GameClient, render
from gameserver.modes import koth_rules as kr
from gameserver.modes.koth import HillInput, KingOfTheHill
from gameserver.room import JoinRefused, MatchId, PlayerId, Room, RoomSpec, TickOutput, spec_from_claims
from gameserver.server import GameServer
from tests.gameserver.conftest import url
from tests.waiting import until


def make(seats: int = 4, **options: Any) -> Room:
    config = KingOfTheHill.configure(seats=seats, tick_hz=20, seed=5, teams=2, options=options)
    spec = RoomSpec(match_id=MatchId("hill"), mode="koth", tick_hz=20, seed=5, seats=seats, teams=2,
                    min_players=seats, options=config.options)
    return Room(spec, server_id="s", now=0.0, wall_us=0, grace_s=5.0, linger_s=0.5, mode_class=KingOfTheHill)


def test_the_mode_declares_itself_and_is_found_by_its_entry_point() -> None:
    assert check_mode(KingOfTheHill) is KingOfTheHill
    assert load_modes(["koth"]) == {"koth": KingOfTheHill}
    assert KingOfTheHill.input_schema.names == ("seq", "move_x", "move_y", "sprint", "shove")
    assert KingOfTheHill.player_columns == kr.PLAYER_COLUMNS and KingOfTheHill.motion_columns == kr.MOTION
    assert KingOfTheHill.object_columns == kr.HILL_COLUMNS


def test_a_room_claim_must_make_two_teams_of_at_most_sixteen_within_the_options() -> None:
    ok = spec_from_claims("m", {"mode": "koth", "seats": 16, "teams": 2, "score_limit": 50}, default_tick_hz=20,
                          max_seats=100)
    assert ok.options["score_limit"] == 50 and ok.options["hill_move_s"] == 60.0
    for bad in ({"seats": 17, "teams": 2}, {"seats": 4, "teams": 0}, {"seats": 4, "teams": 3},
                {"seats": 4, "teams": 2, "score_limit": 0}, {"seats": 4, "teams": 2, "hill_move_s": 1.0},
                {"seats": 4, "teams": 2, "options": {"rope_m": 3}}):
        with pytest.raises(JoinRefused):
            spec_from_claims("m", {"mode": "koth", **bad}, default_tick_hz=20, max_seats=100)


def test_the_schema_decodes_koth_rows_and_refuses_anything_else() -> None:
    schema = KingOfTheHill.input_schema
    ok = p.decode_client(envelope.pack({"t": "input", "i": [[1, 0.5, -1.0, True, False]]}), schema=schema)
    assert isinstance(ok, p.Inputs) and ok.inputs == (HillInput(1, 0.5, -1.0, True, False),)
    assert type(ok.inputs[0]) is HillInput
    for row in ([1, 0.5, 0.0, 0.3, True],  # an arena row: aim where sprint goes
                [1, 1.5, 0.0, False, False],  # out of bounds
                [1, math.nan, 0.0, False, False],
                [1, 0.0, 0.0, False, 2],
                [1, 0.0, 0.0, False]):  # a field short
        with pytest.raises(p.ProtocolViolation) as caught:
            p.decode_client(envelope.pack({"t": "input", "i": [row]}), schema=schema)
        assert caught.value.code == p.BAD_FIELD


def events_of(out: TickOutput) -> list[dict[str, Any]]:
    return envelope.unpack(out.events)["e"] if out.events is not None else []


def test_a_room_plays_to_the_score_limit_and_replicates_the_hill() -> None:
    room = make(score_limit=6)
    seats = [room.admit(PlayerId(f"p{i}"), f"p{i}", object(), 0.0) for i in range(4)]
    assert [s.team for s in seats] == [0, 1, 0, 1]
    welcome = envelope.unpack(room.welcome(seats[0]))
    assert [f["name"] for f in welcome["input"]["fields"]] == ["move_x", "move_y", "sprint", "shove"]
    assert welcome["columns"]["player"] == list(kr.PLAYER_COLUMNS) and welcome["columns"]["motion"] == 3
    assert welcome["map"]["score_limit"] == 6 and sorted(welcome["map"]["hill_order"]) == [0, 1, 2]
    mode = room.mode
    assert isinstance(mode, KingOfTheHill)
    hill_rows: dict[int, list[int]] = {row[0]: row for row in envelope.unpack(room.keyframe(0))["objects"]}
    assert len(hill_rows) == 1
    kinds: list[str] = []
    result: MatchResult | None = None
    for k in range(1, 2000):
        cx, cy = mode.game.hill_centre()
        for seat in seats:
            if seat.team == 0:  # team 0 makes for the hill; team 1 stays put
                dx, dy = cx - mode.game.pos[seat.index, 0], cy - mode.game.pos[seat.index, 1]
                d = math.hypot(dx, dy) or 1.0
                row = HillInput(k, max(-1.0, min(1.0, dx / d)), max(-1.0, min(1.0, dy / d)), True, False)
            else:
                row = HillInput(k, 0.0, 0.0, False, False)
            room.push_inputs(seat, (row,))
        out = room.tick(k * 0.05, k * 50_000)
        if out.delta is not None:
            delta = envelope.unpack(out.delta)
            for obj in delta.get("o+", ()):
                hill_rows[obj[0]] = obj
            for ident in delta.get("o-", ()):
                hill_rows.pop(ident)
            assert len(hill_rows) == 1  # one live hill row at a time
        kinds.extend(e["k"] for e in events_of(out))
        if out.result is not None:
            result = out.result
            break
    assert result is not None and result.reason == "score" and result.mode == "koth"
    assert "capture" in kinds and "end" in kinds
    (hill,) = hill_rows.values()
    assert hill[4] == 0  # owned by team 0 at the end
    by_team = {0: [r for r in result.players if r.team == 0], 1: [r for r in result.players if r.team == 1]}
    assert sum(r.score for r in by_team[0]) >= 6 and all(r.score == 0 for r in by_team[1])
    assert {r.placement for r in by_team[0]} == {1} and {r.placement for r in by_team[1]} == {2}
    assert result.winners() == {"p0", "p2"}
    assert all(set(r.stats) == {"captures", "shoves"} for r in result.players)
    assert sum(r.stat("captures") for r in by_team[0]) >= 1 and all(r.stat("captures") == 0 for r in by_team[1])
    assert MatchResult.parse(result.encode()) == result


def test_a_keyframe_after_a_capture_holds_the_current_hill_only() -> None:
    room = make()
    seats = [room.admit(PlayerId(f"p{i}"), f"p{i}", object(), 0.0) for i in range(4)]
    mode = room.mode
    assert isinstance(mode, KingOfTheHill)
    cx, cy = mode.game.hill_centre()
    mode.game.pos[0] = (cx, cy)
    for k in range(1, mode.game.capture_ticks + 2):
        for seat in seats:
            room.push_inputs(seat, (HillInput(k, 0.0, 0.0, False, False),))
        room.tick(k * 0.05, k * 50_000)
    frame = envelope.unpack(room.keyframe(0))
    assert len(frame["objects"]) == 1 and frame["objects"][0][4] == 0
    assert np.array_equal(frame["objects"], mode.game.hill)


async def test_a_real_server_refuses_an_arena_row_in_a_koth_room_and_takes_a_koth_one(
        game_server: GameServer, mint: Any) -> None:
    c = GameClient(url(game_server))
    welcome = await c.join(mint("p1", "hill-1", mode="koth", seats=2, teams=2, min_players=1, time_limit_s=30))
    assert welcome["t"] == "welcome" and welcome["mode"] == "koth"
    room = game_server.rooms[MatchId("hill-1")]
    seat = room.by_player[PlayerId("p1")]
    await c.send_input(0.5, 0.0, 0.3, True)  # the arena's [seq, move_x, move_y, aim, fire]
    err = await c.expect("error")
    assert err["code"] == p.BAD_FIELD and "sprint" in err["msg"]
    assert seat.last_enqueued == -1  # nothing was applied
    await c.send_row(1.0, 0.0, True, False)
    await until(lambda: seat.last_applied >= 0, what="the koth input applied")

    async def stamina() -> int | None:
        await c.expect("delta")
        row = c.player_row(welcome["player"])
        return row is not None and row["stamina"] < 100 and row["stamina"]

    assert await until(stamina, what="a sprint seen in the deltas") < 100
    await c.close()


# --- the conformance suite ----------------------------------------------------------------

def hill_policy(teams: tuple[int, ...], wander: float = 0.0) -> Policy:
    """Seats of ``teams`` play as the bots do (one HillBot per seat and per driver); the others
    stand still, or with probability ``wander`` a step does something random."""
    bots: weakref.WeakKeyDictionary[random.Random, dict[int, HillBot]] = weakref.WeakKeyDictionary()
    welcome = {"map": dict(KingOfTheHill.MAP)}

    def pick(snap: Snapshot, seat: int, rng: random.Random) -> list[Any]:
        if rng.random() < wander:
            return [rng.uniform(-1, 1), rng.uniform(-1, 1), rng.random() < 0.5, rng.random() < 0.3]
        me = dict(zip(kr.PLAYER_COLUMNS, snap.players[seat].tolist()))
        if me["team"] not in teams:
            return [0.0, 0.0, False, False]
        bot = bots.setdefault(rng, {}).setdefault(seat, HillBot(welcome, random.Random(seat)))
        enemies = [dict(zip(kr.PLAYER_COLUMNS, row)) for i, row in enumerate(snap.players.tolist())
                   if snap.present[i] and row[kr.TEAM] != me["team"]]
        hill = dict(zip(kr.HILL_COLUMNS, snap.objects[-1].tolist())) if len(snap.objects) else None
        return list(bot.steer(me, enemies, hill))

    return pick


SCENARIOS = {
    "": Scenario(seats=8, teams=2, policy=hill_policy((0, 1), wander=0.2)),
    "score": Scenario(options={"score_limit": 3}, seats=4, teams=2, policy=hill_policy((0,))),
    "time": Scenario(options={"time_limit_s": 10.0}, seats=4, teams=2),
}


@pytest.mark.parametrize("check", CHECKS)
def test_king_of_the_hill_conforms(check: str) -> None:
    run_check(check, KingOfTheHill, scenarios=SCENARIOS)


def test_the_scenarios_play_reaches_captures_and_shoves() -> None:
    """The scenarios' policies reach the mode's own events (without the suite's seat churn, which
    sends players back to their spawn every few seconds), so what the checks compare is a game."""
    config = KingOfTheHill.configure(seats=8, tick_hz=20, seed=1, teams=2)
    kinds: dict[str, set[str]] = {}
    for name in ("", "score"):
        driver = _play(KingOfTheHill, config, 1, 1500, SCENARIOS[name].policy, churn=0.0)  # type: ignore[arg-type]
        kinds[name] = {e["k"] for entry in driver.log if len(entry) == 6 for e in entry[1]}
    assert "shove" in kinds[""] and "capture" in kinds["score"]


def test_the_reference_client_renders_a_koth_match_from_its_welcome_alone() -> None:
    room = make()
    seat = room.admit(PlayerId("alice"), "alice", object(), 0.0)
    replica = Replica()
    welcome = envelope.unpack(room.welcome(seat))
    replica.motion, replica.width = welcome["columns"]["motion"], len(welcome["columns"]["player"])
    replica.apply(envelope.unpack(room.keyframe(0)))
    lines = render(welcome, replica).splitlines()
    mode = room.mode
    assert isinstance(mode, KingOfTheHill)
    x, y = mode.game.pos[0]
    cx, cy = mode.game.hill_centre()
    assert lines[0] == "koth hill tick 0"
    assert lines[1] == (f"  seat 0 alice (team 0): x_cm {x:.2f} m, y_cm {y:.2f} m, stamina 100, team 0, stunned 0, "
                        "on_hill 0, score 0, captures 0, shoves 0")
    assert lines[2] == (f"  object 1: x_cm {cx:.2f} m, y_cm {cy:.2f} m, radius_cm 4.00 m, owner -1, capturer -1, "
                        "progress_pct 0")
