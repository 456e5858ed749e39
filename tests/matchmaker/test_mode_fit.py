"""Queue modes checked against the mode declarations game servers advertise (heartbeat ``mode_info``)."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from elysium.modes import ModeDeclaration, declare
from elysium.modes.registry import declared_modes
from gameserver.modes.arena import Arena
from matchmaker.matcher import Matcher, room_claim
from matchmaker.modes import ModeConfig
from matchmaker.registry import LiveServer, _declarations
from tests.matchmaker.conftest import fake_server, services
from tests.matchmaker.test_matching import queue_players

ARENA = declare(Arena)
DUEL_ONLY = ModeDeclaration("arena", 1, (2, 2), (0, 0), (1, 60), ARENA.options)


def test_a_queue_mode_fits_a_declaration_or_says_why_not() -> None:
    assert ModeConfig("arena", max_players=10).misfit(ARENA) is None
    assert ModeConfig("team-arena", teams=2, team_size=4, max_players=8).misfit(ARENA) is None
    assert ModeConfig("arena", max_players=10).misfit(DUEL_ONLY) == "seats must be between 2 and 2 for mode arena"
    assert ModeConfig("team", teams=2, team_size=1, max_players=2).misfit(DUEL_ONLY) == (
        "teams must be between 0 and 0 for mode arena")
    assert ModeConfig("long", score_limit=5000).misfit(ARENA) == (
        "options.score_limit must be an integer between 1 and 1000")
    assert ModeConfig("typo", options={"scorelimit": 5}).misfit(ARENA) is not None


def test_the_room_claim_carries_the_options_the_game_server_checks() -> None:
    from matchmaker.core import Proposal

    mode = ModeConfig("quick", options={"time_limit_s": 30.0}).validate()
    prop = Proposal(mode="quick", region="local", tickets=("t1", "t2"), roster=(("a", 0), ("b", 0)),
                    rating_spread=0.0, oldest_wait_ms=0)
    claim = room_claim(mode, prop, seed=7)
    assert claim["options"] == {"time_limit_s": 30.0} and claim["score_limit"] == 10
    # The game server reads it with the same rule: the options map over the flat v1 keys.
    assert ARENA.check_room(seats=2, teams=0, options=ARENA.room_options(claim)) == {
        "score_limit": 10, "time_limit_s": 30.0}


def live(name: str, info: Any) -> LiveServer:
    server = LiveServer(name, "ws://x", "local", ("arena",), 100, 10, 0)
    server.declarations, server.undeclared = _declarations(info)
    return server


def test_a_server_is_a_candidate_only_when_its_declaration_accepts_the_queue_mode() -> None:
    matcher = Matcher(None, None, {}, max_tickets=10)  # type: ignore[arg-type]
    arena = ModeConfig("arena", max_players=10)
    assert matcher.hosts(live("new", declared_modes({"arena": Arena})), arena)
    assert matcher.hosts(live("old", None), arena)  # a server that advertises no declarations
    assert not matcher.hosts(live("duel", {"arena": DUEL_ONLY.to_json()}), arena)
    assert not matcher.hosts(live("garbled", {"arena": {"api": "one"}}), arena)  # not trusted
    assert ("arena", "duel") in matcher.misfits_logged


async def test_a_pass_places_matches_only_on_servers_whose_declaration_fits(
        mm: Any, auth: Any, rclient: aioredis.Redis) -> None:
    await fake_server(rclient, "gs-duel-only", seats_free=100, mode_info={"arena": DUEL_ONLY.to_json()})
    await queue_players(mm, auth, ["p1", "p2", "p3", "p4"])
    report = await services(mm).matcher.run_pass()
    assert report.matches == 0  # the only server would refuse a four-player arena room
    await fake_server(rclient, "gs-any", seats_free=100, mode_info=declared_modes({"arena": Arena}))
    report = await services(mm).matcher.run_pass()
    assert report.matches == 1
