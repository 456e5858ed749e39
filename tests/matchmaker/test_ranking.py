"""The pure parts of history and leaderboards: order, cursors, records, replay links."""

from __future__ import annotations

import random

import pytest

from elysium.results import MatchResult, PlayerRow
from matchmaker import ranking, records
from matchmaker.skill import Rating


def standing(pid: str, ordinal: float, wins: int, matches: int) -> dict[str, object]:
    return {"player_id": pid, "ordinal": ordinal, "wins": wins, "matches": matches}


def test_scores_order_as_the_rules_say() -> None:
    rows = [standing("b", 3.0, 1, 4), standing("a", 3.0, 1, 2), standing("c", -1.5, 5, 9), standing("d", 0.0, 5, 9),
            standing("e", -0.0, 0, 1)]
    assert [d["player_id"] for d in ranking.ordered("rating", rows)] == ["a", "b", "d", "e", "c"]
    assert [d["player_id"] for d in ranking.ordered("wins", rows)] == ["c", "d", "a", "b", "e"]
    assert ranking.score("rating", -0.0, 0, 0) == ranking.score("rating", 0.0, 0, 0)
    with pytest.raises(ValueError):
        ranking.score("kills", 1.0, 0, 0)


def test_the_wins_score_keeps_wins_ahead_of_matches() -> None:
    rng = random.Random(3)
    rows = [standing(f"p{i}", 0.0, rng.randint(0, 5000), rng.randint(5000, 10**6)) for i in range(500)]
    by_score = ranking.ordered("wins", rows)
    by_rule = sorted(rows, key=lambda d: (-int(d["wins"]), int(d["matches"]), str(d["player_id"])))  # type: ignore[call-overload]
    assert by_score == by_rule


def test_cursors_round_trip_and_refuse_anything_else() -> None:
    shape = {"e": int, "m": str}
    cursor = ranking.make_cursor({"e": 17, "m": "arena.x"})
    assert ranking.read_cursor(cursor, shape) == {"e": 17, "m": "arena.x"}
    for bad in ("", "!!", "e30", ranking.make_cursor({"e": 1}), ranking.make_cursor({"e": True, "m": "x"}),
                ranking.make_cursor({"e": -1, "m": "x"}), ranking.make_cursor({"e": 1, "m": "x", "z": 0}),
                "WzEsMl0", "A" * (ranking.MAX_CURSOR + 1)):  # "WzEsMl0": [1,2], a list
        with pytest.raises(ranking.CursorError):
            ranking.read_cursor(bad, shape)


def one(reason: str = "score") -> MatchResult:
    rows = [PlayerRow("w", 0, "W", 0, 3, 10.0, {"kills": 3}), PlayerRow("l", 1, "L", 1, 1, 10.0, {"kills": 1})]
    return MatchResult.create(match_id="duel.r", mode="arena", seed=1, server_id="gs", reason=reason, ticks=10,
                              duration_s=1.0, started_at_us=1_000_000, ended_at_us=2_000_000, teams=2, players=rows)


def test_a_record_holds_the_match_and_its_rating_change() -> None:
    after = {"w": Rating(27.0, 7.0), "l": Rating(23.0, 7.0)}
    doc = records.match_document("duel", "s1", one(), {}, after, 5)
    assert doc["_id"] == "duel.r" and doc["winners"] == ["w"] and doc["player_ids"] == ["w", "l"]
    assert doc["sides"] == [{"team": 0, "score": 3, "placement": 1, "players": ["w"]},
                            {"team": 1, "score": 1, "placement": 2, "players": ["l"]}]
    w = doc["players"][0]
    assert w["won"] and w["rating_before"] == {"mu": 25.0, "sigma": 25.0 / 3, "ordinal": 25.0 - 25.0}
    assert w["rating_after"] == {"mu": 27.0, "sigma": 7.0, "ordinal": 6.0}
    unrated = records.match_document("duel", "s1", one(), {}, {}, 5)
    assert unrated["players"][0]["rating_before"] is None and unrated["players"][0]["rating_after"] is None
    drained = records.match_document("duel", "s1", one("shutdown"), {}, after, 5)
    assert drained["winners"] == [] and not drained["players"][0]["won"]


def test_replay_links_live_as_long_as_the_feed() -> None:
    source = records.ReplaySource("wss://watch.example/", 60)
    assert records.replay_link("duel.a b", 2_000_000, source, 61_999) == {
        "status": "available", "url": "wss://watch.example/v1/watch/duel.a%20b", "expires_at_ms": 62_000}
    assert records.replay_link("duel.a", 2_000_000, source, 62_000)["status"] == "expired"
    assert records.replay_link("duel.a", 2_000_000, records.ReplaySource("", 60), 0)["status"] == "unavailable"
