"""The pure matching core, driven without Redis or sockets."""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matchmaker.core import QueueEntry, assign_teams, eligible_regions, propose
from matchmaker.modes import ModeConfig, ModeError, parse_modes

NOW = 1_000_000
FFA = ModeConfig("arena", min_players=2, max_players=4, gap_base=2.0, gap_widen_per_s=1.0, gap_max=10.0,
                 max_wait_s=30.0, region_widen_after_s=5.0).validate()
TEAMS = ModeConfig("squads", teams=2, team_size=3, min_players=4, max_players=6, max_wait_s=30.0).validate()


def entry(i: int, rating: float = 25.0, *, waited_s: float = 0.0, size: int = 1, regions: tuple[str, ...] = ("eu",),
          fallback: bool = False) -> QueueEntry:
    return QueueEntry(f"t{i}", tuple(f"p{i}-{k}" for k in range(size)), rating,
                      tuple((r, 10.0 * (n + 1)) for n, r in enumerate(regions)), NOW - int(waited_s * 1000), fallback)


def test_fills_matches_of_max_players_from_close_ratings() -> None:
    entries = [entry(i, 25.0 + i * 0.1) for i in range(8)]
    out = propose(entries, FFA, NOW, {"eu": 100})
    assert len(out) == 2 and all(p.players == 4 for p in out)
    assert sorted(t for p in out for t in p.tickets) == sorted(e.ticket_id for e in entries)


def test_fresh_tickets_far_apart_do_not_match_until_the_gap_widens() -> None:
    far = [entry(0, 10.0), entry(1, 10.5), entry(2, 30.0), entry(3, 30.5)]
    assert propose(far, FFA, NOW, {"eu": 100}) == []
    # The oldest ticket has waited long enough for a gap of 2 + 1 * 25 (capped at 10): still no.
    waited = [entry(0, 10.0, waited_s=25.0)] + far[1:]
    assert propose(waited, FFA, NOW, {"eu": 100}) == []
    # Past max_wait_s the anchor accepts any rating.
    patient = [entry(0, 10.0, waited_s=31.0)] + far[1:]
    (match,) = propose(patient, FFA, NOW, {"eu": 100})
    assert match.players == 4 and match.rating_spread == pytest.approx(20.5)


def test_the_gap_widens_with_wait() -> None:
    assert FFA.gap(0) == 2.0 and FFA.gap(3) == 5.0 and FFA.gap(20) == 10.0 and FFA.gap(30) == float("inf")
    entries = [entry(0, 20.0, waited_s=4.0), entry(1, 25.0), entry(2, 24.0), entry(3, 23.0)]
    (match,) = propose(entries, FFA, NOW, {"eu": 100})  # 2 + 4 = 6 >= 5
    assert set(match.tickets) == {"t0", "t1", "t2", "t3"}


def test_smaller_match_only_after_max_wait() -> None:
    two = [entry(0), entry(1)]
    assert propose(two, FFA, NOW, {"eu": 100}) == []
    (match,) = propose([entry(0, waited_s=31.0), entry(1)], FFA, NOW, {"eu": 100})
    assert match.players == 2
    assert propose([entry(0, waited_s=31.0)], FFA, NOW, {"eu": 100}) == []  # below min_players


def test_regions_are_respected_and_widen_then_fall_back() -> None:
    eu = [entry(i, regions=("eu",)) for i in range(2)]
    us = [entry(i + 2, regions=("us", "eu")) for i in range(2)]
    assert propose(eu + us, FFA, NOW, {"eu": 100, "us": 100}) == []
    # After region_widen_after_s the us tickets also accept their second listed region.
    us_waited = [entry(i + 2, regions=("us", "eu"), waited_s=6.0) for i in range(2)]
    (match,) = propose(eu + us_waited, FFA, NOW, {"eu": 100, "us": 100})
    assert match.region == "eu" and match.players == 4
    # A region nobody listed is used only by a ticket that accepts a fallback, after max_wait_s.
    lonely = entry(9, regions=("ap",), waited_s=40.0)
    assert eligible_regions(lonely, FFA, NOW, ["eu", "ap"]) == ["ap"]
    relaxed = entry(9, regions=("ap",), waited_s=40.0, fallback=True)
    assert eligible_regions(relaxed, FFA, NOW, ["eu", "ap"]) == ["ap", "eu"]
    (match,) = propose(eu + [relaxed], FFA, NOW, {"eu": 100})
    assert match.region == "eu" and "t9" in match.tickets


def test_capacity_of_a_region_bounds_the_matches() -> None:
    entries = [entry(i) for i in range(12)]
    assert len(propose(entries, FFA, NOW, {"eu": 8})) == 2
    assert propose(entries, FFA, NOW, {"eu": 3}) == []
    assert propose(entries, FFA, NOW, {}) == []


def test_parties_stay_together_on_one_team_and_teams_balance() -> None:
    entries = [entry(0, 30.0, size=3), entry(1, 20.0), entry(2, 21.0), entry(3, 22.0)]
    (match,) = propose(entries, dataclasses.replace(TEAMS, gap_base=50.0), NOW, {"eu": 100})
    teams = dict(match.roster)
    assert len({teams[f"p0-{k}"] for k in range(3)}) == 1
    assert sorted(list(teams.values()).count(t) for t in (0, 1)) == [3, 3]


def test_a_party_larger_than_a_team_is_never_placed() -> None:
    entries = [entry(0, size=4), entry(1, size=2)]
    assert propose(entries, TEAMS, NOW, {"eu": 100}) == []


def test_team_balance_by_rating() -> None:
    teams = assign_teams([(1, 30.0), (1, 29.0), (1, 20.0), (1, 19.0)], 2, 2)
    assert teams is not None and teams[0] != teams[1] and teams[2] != teams[3]
    assert assign_teams([(2, 25.0), (2, 25.0), (2, 25.0)], 2, 3) is None


def test_no_ticket_is_proposed_twice_and_same_input_same_output() -> None:
    rng = random.Random(7)
    entries = [entry(i, rng.gauss(25, 6), waited_s=rng.uniform(0, 40), size=rng.choice((1, 1, 1, 2, 3)),
                     regions=tuple(rng.sample(["eu", "us", "ap"], rng.randint(1, 2))), fallback=rng.random() < 0.3)
               for i in range(3000)]
    first = propose(entries, TEAMS, NOW, {"eu": 5000, "us": 5000, "ap": 600})
    again = propose(entries, TEAMS, NOW, {"eu": 5000, "us": 5000, "ap": 600})
    assert first == again and len(first) > 100
    placed = [t for p in first for t in p.tickets]
    assert len(placed) == len(set(placed))
    by_id = {e.ticket_id: e for e in entries}
    for p in first:
        assert TEAMS.min_players <= p.players <= TEAMS.max_players
        for t in p.tickets:
            assert p.region in eligible_regions(by_id[t], TEAMS, NOW, ["eu", "us", "ap"])
        for team in (0, 1):
            assert sum(1 for _, tm in p.roster if tm == team) <= TEAMS.team_size
    assert sum(p.players for p in first if p.region == "ap") <= 600


def test_mode_definitions_are_validated() -> None:
    with pytest.raises(ModeError, match="max_players must equal"):
        parse_modes([{"name": "bad", "teams": 2, "team_size": 3, "max_players": 5}])
    with pytest.raises(ModeError, match="unknown mode fields"):
        parse_modes([{"name": "x", "colour": "red"}])
    with pytest.raises(ModeError, match="mode name"):
        parse_modes([{"name": "Bad Name"}])
    with pytest.raises(ModeError, match="defined twice"):
        parse_modes([{"name": "a"}, {"name": "a"}])
    assert parse_modes([{"name": "solo", "max_players": 8}])["solo"].max_players == 8


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 50), st.floats(0, 90), st.integers(1, 3),
                          st.sampled_from([("eu",), ("us",), ("eu", "us")]), st.booleans()),
                min_size=0, max_size=120),
       st.sampled_from([FFA, TEAMS]), st.integers(0, 60))
def test_proposals_always_keep_the_rules(raw: list[tuple[float, float, int, tuple[str, ...], bool]],
                                         mode: ModeConfig, eu_seats: int) -> None:
    entries = [entry(i, rating, waited_s=waited, size=size, regions=regions, fallback=fb)
               for i, (rating, waited, size, regions, fb) in enumerate(raw)]
    by_id = {e.ticket_id: e for e in entries}
    seats = {"eu": eu_seats, "us": 40}
    out = propose(entries, mode, NOW, seats)
    placed = [t for p in out for t in p.tickets]
    assert len(placed) == len(set(placed))
    used = {"eu": 0, "us": 0}
    for p in out:
        used[p.region] += p.players
        assert len(p.roster) == sum(by_id[t].size for t in p.tickets)
        oldest = max((NOW - by_id[t].enqueued_ms) / 1000 for t in p.tickets)
        if p.players < mode.max_players:
            assert oldest >= mode.max_wait_s and p.players >= mode.min_players
        ratings = [by_id[t].rating for t in p.tickets]
        assert max(ratings) - min(ratings) <= 2 * mode.gap(oldest) + 1e-9
        for t in p.tickets:
            assert p.region in eligible_regions(by_id[t], mode, NOW, list(seats))
            members = {pid for pid, _ in p.roster if pid in by_id[t].players}
            assert len({team for pid, team in p.roster if pid in members}) == 1  # a party shares a team
        if mode.teams:
            for team in range(mode.teams):
                assert sum(1 for _, tm in p.roster if tm == team) <= mode.team_size
    assert used["eu"] <= eu_seats and used["us"] <= 40


def test_a_queue_mode_passes_its_game_modes_options_to_the_room() -> None:
    from matchmaker.matcher import room_claim
    from matchmaker.core import Proposal

    (cards,) = parse_modes([{"name": "cards", "game_mode": "cards", "min_players": 2, "max_players": 4,
                             "options": {"hand_size": 3, "turn_time_s": 2.5}}]).values()
    prop = Proposal("cards", "local", ("t1", "t2"), (("a", 0), ("b", 0)), 0.0, 0)
    claim = room_claim(cards, prop, seed=9)
    assert claim["mode"] == "cards" and claim["options"] == {"hand_size": 3, "turn_time_s": 2.5}
    (arena,) = parse_modes([{"name": "arena"}]).values()
    assert "options" not in room_claim(arena, prop, seed=9)
    for bad in ([1], {1: 2}):
        with pytest.raises(ModeError, match="options"):
            parse_modes([{"name": "cards", "options": bad}])
