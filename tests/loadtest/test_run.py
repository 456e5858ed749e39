"""The smoke scenario against a real in-process game server, checked against the server's own metrics."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from elysium import procs
from gameserver.server import GameServer
from loadtest import htmlreport, report, summary
from loadtest import scenario as scn
from loadtest.progress import Progress
from loadtest.runner import Target, run
from loadtest.serverstats import gameserver_view, metrics_url_for, parse_prometheus
from tests.gameserver.conftest import SERVER_ID, url


def _server_view(server: GameServer) -> dict[str, float]:
    _, body, _ = server.http_get("/metrics")
    view = gameserver_view(parse_prometheus(body.decode()))
    assert view is not None
    return view


async def _settle(server: GameServer) -> dict[str, float]:
    """Wait (bounded) until every simulated player has left the server."""
    for _ in range(100):
        view = _server_view(server)
        if view["players_connected"] == 0:
            return view
        await asyncio.sleep(0.05)
    raise AssertionError(f"players still connected: {view}")


async def test_smoke_scenario_numbers_match_the_servers_metrics(game_server: GameServer, keys_dir: Path) -> None:
    smoke = scn.with_overrides(scn.load("smoke"), duration_s=2, ramp_per_s=40)
    target = Target(url=url(game_server), server_id=SERVER_ID, join_key_file=str(keys_dir / "join.key"),
                    metrics_url=metrics_url_for(url(game_server)))
    out = io.StringIO()
    result = await asyncio.to_thread(run, smoke, target, workers=2, progress=Progress(out, tty=False, log_every_s=0))
    server = await _settle(game_server)
    doc = report.build(result)
    # The tester's own health is left a warning here: on a busy shared machine its loop can be late,
    # and what this test checks is that the counts match the server's (the overload check has its own tests).
    doc["thresholds"] = report.check(doc, smoke.thresholds, tester_overload="warn")

    counts = doc["counts"]
    assert doc["players"] == 20 and doc["players_peak_connected"] == 20 and doc["workers"] == 2
    assert doc["errors"] == 0 and doc["disconnects"] == 0 and doc["failures"] == []
    # The server saw exactly what the simulated players did.
    assert counts["connects"] == server["connections"] == 20
    assert counts["joins"] == server["joins_ok"] == 20
    assert counts["inputs_sent"] == server["inputs"] > 0
    assert counts["deltas"] == server["frames_out"] > 0
    assert server["frames_dropped"] == 0 and server["rejected_inputs"] == 0, doc["inputs"]
    # Tick frames carry one delta each (events travel in the same write), 10 players a room.
    assert counts["bytes_in"] >= server["bytes_out"]
    # Latency and round trips were measured from those messages.
    assert doc["latency_ms"]["count"] == counts["deltas"] + counts["keyframes"]
    assert 0 < doc["latency_ms"]["p50"] <= doc["latency_ms"]["p99"] <= doc["latency_ms"]["max"]
    assert doc["input_rtt_ms"]["count"] > 0 and counts["inputs_acked"] <= counts["inputs_sent"]
    assert doc["join_ms"]["count"] == 20 and doc["ping_rtt_ms"]["count"] == counts["pongs"] > 0
    assert doc["tick_jitter_ms"]["count"] > 0
    assert doc["per_player"]["msgs_in_per_s"]["count"] == 20
    # 20 Hz ticks: each player receives about 20 messages per second.
    assert 15 < doc["per_player"]["msgs_in_per_s_mean"] < 30
    assert doc["thresholds"]["passed"]
    assert doc["timeline"] and all(r["connected"] <= 20 for r in doc["timeline"])
    # Progress went to the stream as log lines (not a terminal).
    assert '"event": "loadtest_progress"' in out.getvalue()
    page = htmlreport.render(doc)
    assert "<svg" in page and "<script" not in page and "passed" in page
    # p95 beside p50 and p99, the tester's own loop lag, and the server's rejections (none here).
    lat = doc["latency_ms"]
    assert lat["p50"] <= lat["p95"] <= lat["p99"] and doc["input_rtt_ms"]["p95"] is not None
    assert doc["tester_lag_ms"]["count"] > 0 and doc["tester_lag_ms"]["p95"] is not None
    assert doc["inputs"] == {"sent": counts["inputs_sent"], "acked": counts["inputs_acked"], "rejected": 0,
                             "rejected_share": 0.0, "rejected_by_reason": {}}
    assert "inputs_rejected" not in [w["code"] for w in doc["warnings"]]
    assert "tester loop lag p99 (ms)" in page and "event-loop lag" in page
    # The end-of-run summary says what the report says.
    text = summary.render(doc)
    assert "loadtest smoke: PASSED" in text
    assert "✓ max_error_rate" in text and "✓ min_connected_ratio" in text and "✗" not in text
    assert "20 planned, 20 started, 20 peak connected, 0 gave up" in text
    assert f"{counts['inputs_sent']:,} sent, {counts['inputs_acked']:,} acked, 0 rejected (0.00% of sent)" in text
    assert f"{counts['msgs_in']:,} in (" in text and f"{counts['msgs_out']:,} out (" in text
    latency_row = next(line for line in text.splitlines() if line.strip().startswith("latency "))
    assert latency_row.split()[1:] == [f"{lat[k]:,.2f}" for k in ("mean", "min", "p50", "p90", "p95", "p99", "max")] + [
        f"{lat['count']:,}"]
    assert "tester loop lag" in text and "input round trip" in text
    assert "errors ....." in text and text.count("none") == 2  # no errors, no disconnects


async def test_a_refused_join_is_counted_by_cause(game_server: GameServer, keys_dir: Path, tmp_path: Path) -> None:
    # Tokens bound to another server id: the server refuses every join with wrong_server.
    tiny = scn.with_overrides(scn.load("smoke"), players=3, room_size=3, duration_s=1, retries=1)
    target = Target(url=url(game_server), server_id="some-other-server", join_key_file=str(keys_dir / "join.key"),
                    metrics_url=metrics_url_for(url(game_server)))
    result = await asyncio.to_thread(run, tiny, target, workers=1, progress=Progress(io.StringIO(), tty=False))
    doc = report.build(result)
    doc["thresholds"] = report.check(doc, tiny.thresholds)
    assert doc["errors_by_cause"] == {"wrong_server": 6}  # two attempts each, then they give up
    assert doc["counts"]["join_failures"] == 6 and doc["counts"]["retries"] == 3 and doc["counts"]["gave_up"] == 3
    assert doc["players_peak_connected"] == 0
    assert not doc["thresholds"]["passed"]
    server = _server_view(game_server)
    assert server["joins_ok"] == 0 and server["connections"] == 6


async def test_players_that_cannot_connect_are_counted_by_cause(keys_dir: Path) -> None:
    # The target went away after the start-up check: every player's failure is counted, and the run fails.
    tiny = scn.with_overrides(scn.load("smoke"), players=2, ramp_per_s=20, duration_s=1, retries=0)
    target = Target(url=f"ws://127.0.0.1:{procs.free_port()}/v1/play", server_id=SERVER_ID,
                    join_key_file=str(keys_dir / "join.key"))
    result = await asyncio.to_thread(run, tiny, target, workers=1, progress=Progress(io.StringIO(), tty=False))
    doc = report.build(result)
    doc["thresholds"] = report.check(doc, tiny.thresholds)
    assert doc["errors_by_cause"] == {"connect_refused": 2}
    assert doc["players_peak_connected"] == 0 and doc["counts"]["connect_failures"] == doc["counts"]["gave_up"] == 2
    assert not doc["thresholds"]["passed"]
    assert "latency per second: no samples" in htmlreport.render(doc)  # no empty plot


async def test_an_overloaded_tester_is_marked_and_fails_its_thresholds(game_server: GameServer, keys_dir: Path) -> None:
    # The busy behaviour burns 10 ms of CPU per player-tick: 10 players at 20 Hz want twice what one
    # worker's core can give, so its loop falls ticks behind and inputs go out late or not at all.
    busy = scn.from_mapping({"name": "busy", "players": 10, "ramp_per_s": 50, "duration_s": 3, "room_size": 10,
                             "retries": 0, "behaviour": {"busy": 1}, "thresholds": {"max_error_rate": 0}})
    target = Target(url=url(game_server), server_id=SERVER_ID, join_key_file=str(keys_dir / "join.key"),
                    metrics_url=metrics_url_for(url(game_server)))
    result = await asyncio.to_thread(run, busy, target, workers=1, progress=Progress(io.StringIO(), tty=False))
    await _settle(game_server)
    doc = report.build(result)
    tester = doc["tester"]
    assert tester["overloaded"] is True, tester
    codes = {r["code"] for r in tester["overload_reasons"]}
    assert {"loop_lag", "sends_dropped"} <= codes and doc["tester_lag_ms"]["p99"] > tester["limits"]["loop_lag_p99_ms"] == 50
    assert tester["sends_dropped"] > 0 and tester["sends_late"] > 0
    assert [w["code"] for w in doc["warnings"]][:1] == ["tester_overloaded"]
    assert len(tester["workers_detail"]) == 1 and tester["workers_detail"][0]["lag_p99_ms"] > 50
    # Failed by default, a warning only on request; the player-side figures were fine either way.
    failed = report.check(doc, busy.thresholds)
    assert not failed["passed"] and doc["errors"] == 0
    assert [c["name"] for c in failed["checked"] if not c["ok"]] == ["tester_not_overloaded"]
    assert report.check(doc, busy.thresholds, tester_overload="warn")["passed"]
    doc["thresholds"] = failed
    text = summary.render(doc)
    assert "✗ tester_not_overloaded" in text and "OVERLOADED" in text
    assert "The load tester was overloaded" in htmlreport.render(doc)


async def test_a_healthy_tester_is_not_marked(game_server: GameServer, keys_dir: Path) -> None:
    calm = scn.from_mapping({"name": "calm", "players": 10, "ramp_per_s": 50, "duration_s": 4, "room_size": 10,
                             "retries": 0, "behaviour": {"roamer": 1}})
    target = Target(url=url(game_server), server_id=SERVER_ID, join_key_file=str(keys_dir / "join.key"))
    result = await asyncio.to_thread(run, calm, target, workers=1, progress=Progress(io.StringIO(), tty=False))
    await _settle(game_server)
    doc = report.build(result)
    (worker,) = doc["tester"]["workers_detail"]
    assert doc["tester"]["sends_dropped"] == 0 and worker["name"] == "worker 0"
    # Ten players cost a worker a few per cent of a core (measured over the seconds at full load).
    assert worker["cpu_pct_steady"] is not None and worker["cpu_pct_steady"] < 50, worker
    assert worker["cpu_pct_run"] is not None and worker["lag_p99_ms"] is not None


async def test_the_tester_plays_other_modes_from_their_welcome(game_server: GameServer, keys_dir: Path) -> None:
    """King of the hill (two teams) and cards (four at a table) through the direct flow: every
    input the players send is one the server decodes against the mode's schema."""
    target = Target(url=url(game_server), server_id=SERVER_ID, join_key_file=str(keys_dir / "join.key"),
                    metrics_url=metrics_url_for(url(game_server)))
    before = _server_view(game_server)
    played = 0
    for mode, teams, room_size in (("koth", 2, 8), ("cards", 0, 4)):
        shape = scn.with_overrides(scn.load("smoke"), players=8, room_size=room_size, mode=mode, teams=teams,
                                   duration_s=2, ramp_per_s=40, seed=3)
        result = await asyncio.to_thread(run, shape, target, workers=1,
                                         progress=Progress(io.StringIO(), tty=False, log_every_s=0))
        doc = report.build(result)
        assert doc["errors"] == 0 and doc["failures"] == [], (mode, doc["errors"], doc["failures"])
        assert doc["counts"]["joins"] == 8 and doc["counts"]["inputs_sent"] > 0, mode
        played += doc["counts"]["inputs_sent"]
        assert doc["scenario"]["mode"] == mode
    server = await _settle(game_server)
    assert server["joins_ok"] - before["joins_ok"] == 16
    assert server["inputs"] - before["inputs"] == played  # every input decoded by the mode's schema
    assert server["rejected_inputs"] == before["rejected_inputs"]
