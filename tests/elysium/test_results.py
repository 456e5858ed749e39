"""The match result: one encoder, one strict parser, one standings rule, and both consumers agree."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elysium.results import MatchResult, PlayerRow, ResultError, standings


def row(pid: str, seat: int, score: int, team: int = 0, kills: int = 0, deaths: int = 0,
        played: float = 30.0) -> PlayerRow:
    return PlayerRow(player_id=pid, seat=seat, name=pid, team=team, score=score, time_played_s=played,
                     stats={"kills": kills, "deaths": deaths})


def make(players: list[PlayerRow], teams: int = 0, match_id: str = "duel.abc") -> MatchResult:
    return MatchResult.create(match_id=match_id, mode="arena", seed=7, server_id="gs-1", reason="score", ticks=812,
                              duration_s=40.6, started_at_us=1795699700123456, ended_at_us=1795699740723456,
                              teams=teams, players=players)


# Exactly what a game server wrote before rows carried their placement.
LEGACY: dict[str, Any] = {
    "match_id": "m1", "mode": "arena", "seed": 7, "server_id": "gs-1", "reason": "score", "ticks": 812,
    "duration_s": 40.6, "started_at_us": 1795699700123456, "ended_at_us": 1795699740723456, "teams": 0,
    "players": [{"player_id": "alice", "seat": 0, "name": "alice", "team": 0, "score": 10, "kills": 10,
                 "deaths": 3, "time_played_s": 40.6},
                {"player_id": "bob", "seat": 1, "name": "bob", "team": 0, "score": 4, "kills": 4,
                 "deaths": 10, "time_played_s": 40.6}]}


# --- encoding ----------------------------------------------------------------------------


def test_a_result_round_trips_and_keeps_the_streams_json_shape() -> None:
    result = make([row("alice", 0, 10, kills=10, deaths=3, played=40.6),
                   row("bob", 1, 4, kills=4, deaths=10, played=40.6)])
    assert MatchResult.parse(result.encode()) == result
    assert MatchResult.parse(result.encode().decode()) == result
    body = json.loads(result.encode())
    legacy_rows = [{**p, "placement": i + 1} for i, p in enumerate(LEGACY["players"])]
    assert body == {**LEGACY, "match_id": "duel.abc", "players": legacy_rows}
    assert list(body["players"][0]) == ["player_id", "seat", "name", "team", "score", "kills", "deaths",
                                        "time_played_s", "placement"]
    assert b" " not in result.encode()  # compact, as on the stream
    assert result.entry() == {"match_id": b"duel.abc", "result": result.encode()}
    assert MatchResult.from_entry({k.encode(): v for k, v in result.entry().items()}) == result


def test_a_result_written_before_placements_parses_and_is_placed() -> None:
    result = MatchResult.parse(json.dumps(LEGACY))
    assert [(p.player_id, p.placement) for p in result.players] == [("alice", 1), ("bob", 2)]
    assert result.players[0].stats == {"kills": 10, "deaths": 3} and result.players[1].stat("assists") == 0


def test_create_sets_placements_whatever_the_rows_held() -> None:
    result = make([PlayerRow("a", 0, "a", 0, 1, 1.0, placement=7), PlayerRow("b", 1, "b", 0, 2, 1.0)])
    assert [p.placement for p in result.players] == [2, 1]
    with pytest.raises(ResultError) as err:  # built directly, the placements are still checked
        MatchResult(**{**_fields(result), "players": (PlayerRow("a", 0, "a", 0, 1, 1.0, placement=2),)})
    assert err.value.field == "players[0].placement"
    with pytest.raises(ResultError) as err:
        make([PlayerRow("a", 0, "a", 0, 1, 1.0, stats={"score": 3})])
    assert err.value.field == "players[0].score"


def _fields(result: MatchResult) -> dict[str, Any]:
    return {name: getattr(result, name) for name in MatchResult.__dataclass_fields__}


names = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
stat_names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: s not in {"player_id", "seat", "name", "team", "score", "time_played_s", "placement"})
counts = st.integers(-(2**53), 2**53)


@st.composite
def results(draw: st.DrawFn) -> MatchResult:
    teams = draw(st.integers(0, 4))
    ids = draw(st.lists(names, unique=True, max_size=12))
    seats = draw(st.permutations(range(len(ids))))
    rows = [PlayerRow(player_id=pid, seat=seat, name=draw(st.text(max_size=32)),
                      team=draw(st.integers(0, max(teams, 1) - 1)), score=draw(st.integers(-50, 50)),
                      time_played_s=draw(st.floats(0, 1e6, allow_nan=False)),
                      stats=draw(st.dictionaries(stat_names, counts, max_size=4)))
            for pid, seat in zip(ids, seats, strict=True)]
    return MatchResult.create(
        match_id=draw(names), mode=draw(names), seed=draw(st.integers(0, 2**63 - 1)), server_id=draw(names),
        reason=draw(st.sampled_from(["score", "time", "shutdown", "abandoned"])), ticks=draw(st.integers(0, 10**9)),
        duration_s=draw(st.floats(0, 1e6, allow_nan=False)), started_at_us=draw(st.integers(0, 2**53)),
        ended_at_us=draw(st.integers(0, 2**53)), teams=teams, players=rows)


@settings(max_examples=150, deadline=None)
@given(results())
def test_any_result_round_trips(result: MatchResult) -> None:
    again = MatchResult.parse(result.encode())
    assert again == result and again.encode() == result.encode()
    assert again.sides == result.sides


# --- strictness --------------------------------------------------------------------------


def _walk(body: dict[str, Any], path: str) -> tuple[Any, str | int]:
    """The container holding ``path`` (``players[0].score``) and the key within it."""
    parts: list[str | int] = [int(x) if x.isdigit() else x for x in path.replace("]", "").replace("[", ".").split(".")]
    target: Any = body
    for part in parts[:-1]:
        target = target[part]
    return target, parts[-1]


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        target, key = _walk(body, path)
        target[key] = value
    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        target, key = _walk(body, path)
        del target[key]
    return change


BAD: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("extra", _set("extra", 1)),
    ("teams", _set("teams", 17)), ("teams", _set("teams", -1)), ("teams", _set("teams", "2")),
    ("match_id", _set("match_id", "")), ("match_id", _set("match_id", 5)), ("match_id", _set("match_id", "m" * 9000)),
    ("mode", _set("mode", "")), ("mode", _set("mode", None)),
    ("seed", _set("seed", True)), ("seed", _set("seed", -1)), ("seed", _set("seed", 2**63)),
    ("server_id", _set("server_id", "")), ("reason", _set("reason", "Score!")), ("reason", _set("reason", 3)),
    ("ticks", _set("ticks", -1)), ("ticks", _set("ticks", 1.5)),
    ("duration_s", _set("duration_s", "40")), ("duration_s", _set("duration_s", -0.5)),
    ("started_at_us", _set("started_at_us", -1)), ("ended_at_us", _set("ended_at_us", 1.0)),
    ("players", _set("players", {})), ("players", _set("players", [LEGACY["players"][0]] * 1001)),
    ("players[0]", _set("players[0]", "alice")),
    ("players[0].player_id", _set("players[0].player_id", 5)),
    ("players[0].player_id", _set("players[0].player_id", "")),
    ("players[1].player_id", _set("players[1].player_id", "alice")),
    ("players[0].seat", _set("players[0].seat", -1)), ("players[1].seat", _set("players[1].seat", 0)),
    ("players[0].name", _set("players[0].name", None)), ("players[0].name", _set("players[0].name", "n" * 65)),
    ("players[0].team", _set("players[0].team", 1)),  # a free-for-all has one team, 0
    ("players[0].score", _set("players[0].score", "10")), ("players[0].score", _set("players[0].score", True)),
    ("players[0].time_played_s", _set("players[0].time_played_s", "40")),
    ("players[0].time_played_s", _set("players[0].time_played_s", -1)),
    ("players[0].kills", _set("players[0].kills", "10")), ("players[0].kills", _set("players[0].kills", 1.5)),
    ("players[0].Kills", _set("players[0].Kills", 1)),
    ("players[0].placement", _set("players[0].placement", 2)),
    ("players[0].placement", _set("players[0].placement", 0)),
    ("players[1].placement", _set("players[1].placement", 1)),
]
BAD += [(name, _drop(name)) for name in LEGACY]
BAD += [(f"players[0].{name}", _drop(f"players[0].{name}"))
        for name in ("player_id", "seat", "name", "team", "score", "time_played_s")]


@pytest.mark.parametrize(("field", "change"), BAD)
def test_every_bad_field_is_refused_by_name(field: str, change: Callable[[dict[str, Any]], None]) -> None:
    body = copy.deepcopy(LEGACY)
    MatchResult.parse(body)  # the untouched body is good
    change(body)
    with pytest.raises(ResultError) as err:
        MatchResult.parse(json.dumps(body))
    assert err.value.field == field, str(err.value)


def test_team_numbers_stay_below_the_number_of_teams() -> None:
    body = copy.deepcopy(LEGACY)
    body["teams"] = 2
    body["players"][0]["team"] = 1
    MatchResult.parse(body)
    body["players"][1]["team"] = 2
    with pytest.raises(ResultError) as err:
        MatchResult.parse(body)
    assert err.value.field == "players[1].team"


@pytest.mark.parametrize("text", [b"{not json", b"", b"\xff\xfe", b"[]", b"null",
                                  json.dumps({**LEGACY, "duration_s": 1e400}).encode(),
                                  json.dumps(LEGACY).replace("40.6,", "NaN,", 1).encode()])
def test_text_that_is_not_a_result_object_is_refused(text: bytes) -> None:
    with pytest.raises(ResultError) as err:
        MatchResult.parse(text)
    assert err.value.field in {"result", "duration_s"}


def test_a_stream_entry_needs_its_result_and_a_matching_id() -> None:
    good = make([row("a", 0, 1)])
    with pytest.raises(ResultError) as err:
        MatchResult.from_entry({b"nothing": b"here"})
    assert err.value.field == "result"
    for key in (b"other", None):
        fields = {b"result": good.encode()} | ({b"match_id": key} if key else {})
        with pytest.raises(ResultError) as err:
            MatchResult.from_entry(fields)
        assert err.value.field == "match_id"


# --- standings ---------------------------------------------------------------------------


def placements(result: MatchResult) -> dict[str, int]:
    return {p.player_id: p.placement for p in result.players}


def test_free_for_all_ranks_players_by_score_and_ties_share_a_place() -> None:
    result = make([row("a", 0, 5), row("b", 1, 2), row("c", 2, 2), row("d", 3, 0)])
    assert placements(result) == {"a": 1, "b": 2, "c": 2, "d": 4}
    assert [(s.team, s.score, s.placement) for s in result.sides] == [(None, 5, 1), (None, 2, 2), (None, 2, 2),
                                                                      (None, 0, 4)]
    assert result.winners() == {"a"}
    tie = make([row("a", 0, 3), row("b", 1, 3), row("c", 2, 1)])
    assert placements(tie) == {"a": 1, "b": 1, "c": 3} and tie.winners() == frozenset()


def test_teams_rank_by_summed_score_and_players_take_their_teams_place() -> None:
    result = make([row("a", 0, 3, team=0), row("c", 2, 2, team=1), row("d", 3, 2, team=1), row("b", 1, 0, team=0)],
                  teams=2)
    assert placements(result) == {"a": 2, "b": 2, "c": 1, "d": 1}  # team 1 scored 4, team 0 only 3
    assert [(s.team, s.score, s.placement, [p.player_id for p in s.players]) for s in result.sides] == [
        (1, 4, 1, ["c", "d"]), (0, 3, 2, ["a", "b"])]
    assert result.winners() == {"c", "d"}
    tie = make([row("a", 0, 2, team=0), row("b", 1, 2, team=1), row("c", 2, 0, team=2)], teams=3)
    assert placements(tie) == {"a": 1, "b": 1, "c": 3} and tie.winners() == frozenset()


def test_a_team_match_with_one_team_left_is_still_played_by_teams() -> None:
    result = make([row("a", 0, 3, team=1), row("b", 1, 0, team=1)], teams=2)
    assert len(result.sides) == 1 and placements(result) == {"a": 1, "b": 1}
    assert result.winners() == {"a", "b"}  # commerce used to read this as a free-for-all won by "a" alone


def test_nobody_wins_a_scoreless_or_empty_match() -> None:
    assert make([row("a", 0, 0), row("b", 1, 0)]).winners() == frozenset()
    assert make([row("a", 0, 0)]).winners() == frozenset()
    assert make([row("a", 0, 1)]).winners() == {"a"}
    empty = make([])
    assert empty.sides == () and empty.winners() == frozenset() and standings(2, []) == ()


# --- contract: a real room's result, read by both consumers ----------------------------


def play_to_the_end(teams: int, seed: int) -> MatchResult:
    """Run the real room and arena mode, driven by the demo bots' policy, until the match ends."""
    from gameserver import protocol as p
    from gameserver.bots import steer
    from gameserver.room import MatchId, PlayerId, Room, RoomSpec

    spec = RoomSpec(match_id=MatchId("duel.contract"), mode="arena", seats=4, tick_hz=20, seed=seed, teams=teams,
                    options={"score_limit": 3, "time_limit_s": 60.0})
    room = Room(spec, server_id="gs-contract", now=0.0, wall_us=0, grace_s=5.0)
    seats = [room.admit(PlayerId(f"player-{i}"), f"player-{i}", object(), 0.0) for i in range(4)]
    rng = random.Random(seed)
    waypoints = [[rng.uniform(4, 60), rng.uniform(4, 60)] for _ in seats]
    for t in range(1, 20 * 70):
        snap = room.mode.snapshot()
        rows = snap.players.tolist()
        for seat, waypoint in zip(seats, waypoints, strict=True):
            others = [r for i, r in enumerate(rows) if i != seat.index and snap.present[i] and r[4]]
            room.push_inputs(seat, (p.Input(t, *steer(rows[seat.index], others, rng, waypoint)),))
        out = room.tick(t / 20, t * 50_000)
        if out.result is not None:
            return out.result
    raise AssertionError("the match did not end")


@pytest.mark.parametrize("teams", [0, 2])
def test_a_real_rooms_result_parses_and_both_consumers_see_the_same_placements(teams: int) -> None:
    from commerce import rules
    from matchmaker.skill import RatingModel

    produced = play_to_the_end(teams, seed=11)
    assert any(p.score > 0 for p in produced.players), "the bots scored nothing: the check would be empty"
    result = MatchResult.parse(produced.encode())
    assert result == produced and result.teams == teams and len(result.players) == 4
    expected = placements(result)
    assert expected == {p.player_id: s.placement for s in standings(teams, produced.players) for p in s.players}

    # Commerce: the win bonus goes to exactly the players placed first (when one side alone is).
    bonus = rules.parse_rules({"currency": "soft", "participation": 0, "per_kill": 0, "per_score": 0,
                               "win_bonus": 100, "max_per_player": 1000, "min_time_played_s": 0})
    paid = {r.player_id for r in rules.rewards_for(result, bonus)}
    assert paid, "nobody won: the check would be empty"
    assert paid == {pid for pid, place in expected.items() if place == 1} == result.winners()

    # Matchmaker: from equal ratings, a better placement always ends with a higher rating, equal places equal.
    rated = RatingModel().rate(result, {})
    assert set(rated) == set(expected)
    for a in expected:
        for b in expected:
            if expected[a] < expected[b]:
                assert rated[a].mu > rated[b].mu, (a, b, expected)
            elif expected[a] == expected[b]:
                assert rated[a].mu == pytest.approx(rated[b].mu)
