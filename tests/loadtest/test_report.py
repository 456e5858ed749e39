"""Measurements merge exactly, thresholds judge correctly, the HTML stands alone."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest

from loadtest import htmlreport, report, summary
from loadtest import scenario as scn
from loadtest.measure import Aggregate, Recorder, summarise
from loadtest.progress import Progress
from loadtest.runner import RunResult, Target
from loadtest.serverstats import gameserver_view, metrics_url_for, parse_prometheus


def test_worker_intervals_merge_into_exact_totals() -> None:
    a, b = Recorder(), Recorder()
    for v in range(1, 1001):
        a.time_us("latency", v * 10)  # 0.01 .. 10 ms
    b.time_us("latency", 50_000)
    a.counts["joins"] += 3
    b.counts["joins"] += 2
    a.error("token_reused")
    b.error("token_reused")
    b.disconnect("reset")
    agg = Aggregate()
    first = agg.add(0, a.take())
    agg.add(1, b.take())
    assert first["latency"].get_total_count() == 1000
    total = summarise(agg.total["latency"])
    top, p50 = total["max"], total["p50"]
    assert total["count"] == 1001 and top is not None and top >= 49.9 and p50 is not None and 4.9 <= p50 <= 5.1
    assert agg.counts()["joins"] == 5 and agg.errors() == {"token_reused": 2} and agg.disconnects() == {"reset": 1}
    # Taking resets the interval histograms; counters stay cumulative.
    again = a.take()
    assert again["hist"] == {} and again["counts"]["joins"] == 3


def _doc(**over: object) -> dict[str, Any]:
    doc = {"players": 100, "players_peak_connected": 100, "errors": 0, "failures": [],
           "latency_ms": {"p50": 2.0, "p99": 40.0}, "input_rtt_ms": {"p99": 60.0}, "join_ms": {"p99": None}}
    doc.update(over)
    return doc


def test_thresholds() -> None:
    ok = report.check(_doc(), {"max_p99_ms": 50, "max_input_rtt_p99_ms": 60, "min_connected_ratio": 1})
    assert ok["passed"] and all(c["ok"] for c in ok["checked"])
    bad = report.check(_doc(errors=2), {"max_p99_ms": 39.9, "max_error_rate": 0.01})
    assert not bad["passed"]
    assert {c["name"]: (c["ok"], c["value"]) for c in bad["checked"]} == {
        "max_p99_ms": (False, 40.0), "max_error_rate": (False, 0.02)}
    # No samples means the limit is not met, never silently passed.
    assert not report.check(_doc(), {"max_join_p99_ms": 1000})["passed"]
    # A run problem fails the run even with no thresholds.
    assert not report.check(_doc(failures=["worker 1 exited"]), {})["passed"]


def test_line_chart_scales_and_skips_gaps() -> None:
    svg = htmlreport.line_chart("t", [("a", [(0, 1.0), (1, None), (2, 3.0), (3, 4.0)])], "ms")
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 1
    assert "no samples" in htmlreport.line_chart("t", [("a", [(0, None)])], "ms")


def test_html_escapes_what_it_shows() -> None:
    doc = json.loads(json.dumps(_SAMPLE))
    doc["scenario"]["description"] = "<script>alert(1)</script>"
    page = htmlreport.render(doc)
    assert "<script" not in page and "&lt;script&gt;" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing loaded from elsewhere


def test_progress_on_and_off_a_terminal() -> None:
    row = {"t": 1.0, "connected": 5, "msgs_in_per_s": 100.0, "latency_p95_ms": 1.2, "latency_p99_ms": 1.5,
           "input_rtt_p95_ms": None, "input_rtt_p99_ms": None, "tester_lag_p99_ms": 4.0,
           "errors": 0, "tester_cpu_pct": 3.0, "server_cpu_pct": None}
    tty, log = io.StringIO(), io.StringIO()
    Progress(tty, tty=True).row(row, 10)
    assert tty.getvalue().startswith("\r\x1b[K") and "players      5/10" in tty.getvalue()
    assert "p95/p99 1.2/1.5 ms" in tty.getvalue() and "lag p99 4.0 ms" in tty.getvalue()
    p = Progress(log, tty=False, log_every_s=60)
    p.row(row, 10)
    p.row(row, 10)  # within the log period: not repeated
    lines = log.getvalue().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["event"] == "loadtest_progress"


def test_server_metrics_parsing() -> None:
    text = ('# HELP x\nelysium_gameserver_frames_out_total 12.0\n'
            'elysium_gameserver_rejected_inputs_total{reason="rate"} 2.0\n'
            'elysium_gameserver_rejected_inputs_total{reason="bad_field"} 1.0\n'
            'elysium_gameserver_joins_total{outcome="ok"} 4.0\nelysium_gameserver_joins_total{outcome="room_full"} 1.0\n')
    view = gameserver_view(parse_prometheus(text))
    assert view is not None
    assert view["frames_out"] == 12 and view["rejected_inputs"] == 3 and view["joins_ok"] == 4
    assert view["rejected_inputs.rate"] == 2 and view["rejected_inputs.bad_field"] == 1
    assert gameserver_view(None) is None
    assert metrics_url_for("wss://play.example:443/v1/play") == "https://play.example:443/metrics"


_SAMPLE = {
    "run_id": "r1", "started_at": "2026-01-01T00:00:00+00:00", "duration_s": 3.0, "interrupted": False,
    "players": 2, "players_peak_connected": 2, "workers": 1, "errors": 0, "disconnects": 0, "failures": [],
    "scenario": {"name": "x", "description": ""}, "target": {"flow": "direct", "url": "ws://h/v1/play"},
    **{k: summarise(Recorder().hist["latency"]) for k in (
        "latency_ms", "input_rtt_ms", "join_ms", "tick_jitter_ms", "ping_rtt_ms", "match_ms",
        "spectator_latency_ms", "spectator_join_ms", "tester_lag_ms")},
    "per_player": {"msgs_in_per_s": {"p50": 1, "p99": 2}, "bytes_in_per_s": {"p50": 1, "p99": 2},
                   "msgs_in_per_s_mean": 1.0, "bytes_in_per_s_mean": 1.0, "msgs_out_per_s_mean": 1.0,
                   "bytes_out_per_s_mean": 1.0},
    "errors_by_cause": {}, "disconnects_by_cause": {}, "counts": {},
    "server": {"cpu_pct_mean": None, "delta": None},
    "tester": {"cpu_pct_steady": 1.0, "cpu_pct_per_100_players": 1.0, "memory_kb_per_player": 1.0,
               "rss_mb_baseline": 1.0, "rss_mb_peak": 2.0},
    "timeline": [{"t": 1.0, "connected": 2, "started": 2, "latency_p50_ms": 1.0, "latency_p90_ms": 1.0,
                  "latency_p99_ms": 1.0, "latency_max_ms": 1.0, "input_rtt_p99_ms": 50.0, "msgs_in_per_s": 40.0,
                  "inputs_per_s": 40.0, "server_cpu_pct": None, "tester_cpu_pct": 1.0}],
}


def _result(*, lag_ms: float, inputs: int, rejected: dict[str, int] | None) -> RunResult:
    """A finished run's result, measured by a real worker Recorder and merged by the runner's Aggregate."""
    rec = Recorder()
    for i in range(200):
        rec.time_us("tester_lag", lag_ms * 1000 if i % 50 == 0 else 1000)  # 2 % of the wake-ups late
        rec.time_us("latency", 2000 + 10 * i)
    rec.inputs_sent = inputs
    rec.counts.update(inputs_acked=inputs - sum((rejected or {}).values()), connected_ms=20_000)
    agg = Aggregate()
    agg.add(0, rec.take())
    server = None
    if rejected is not None:
        server = {"rejected_inputs": float(sum(rejected.values())),
                  **{f"rejected_inputs.{k}": float(v) for k, v in rejected.items()}}
    return RunResult(scenario=scn.load("smoke"), target=Target(url="ws://h/v1/play", server_id="s", join_key_file="k"),
                     workers=1, run_id="r", started_at=1_000.0, ended_at=1_010.0, aggregate=agg, rows=[],
                     server_before={"rejected_inputs": 0.0} if server else None, server_after=server,
                     tester_baseline_rss=0, tester_peak_rss=0, tester_cpu_s=1.0, server_cpu_s=None,
                     server_peak_rss=None, peak_connected=20)


def test_an_overloaded_tester_and_rejected_inputs_are_flagged() -> None:
    doc = report.build(_result(lag_ms=708, inputs=1_000_000, rejected={"rate": 173_000, "bad_field": 310}))
    doc["thresholds"] = report.check(doc, {})
    lag = doc["tester_lag_ms"]
    assert lag["p50"] == pytest.approx(1.0, rel=0.01) and lag["p99"] == pytest.approx(708, rel=0.01)
    assert lag["p95"] is not None and lag["max"] == pytest.approx(708, rel=0.01)
    assert doc["tester"]["overloaded"] is True
    assert doc["inputs"] == {"sent": 1_000_000, "acked": 826_690, "rejected": 173_310, "rejected_share": 0.1733,
                             "rejected_by_reason": {"bad_field": 310, "rate": 173_000}}
    assert [w["code"] for w in doc["warnings"]] == ["tester_overloaded", "inputs_rejected"]
    overloaded, rejected = (w["message"] for w in doc["warnings"])
    assert "708" in overloaded and "may be the tester's, not the server's" in overloaded
    assert "rejected 173,310 inputs, 17.3% of the 1,000,000 sent (over 1%): bad_field 310, rate 173,000" in rejected
    page = htmlreport.render(doc)
    assert page.count("<p class=warn>") == 2 and "overloaded" in page and "173,310" in page
    text = summary.render(doc)
    assert f"! {overloaded}" in text and f"! {rejected}" in text
    assert "173,310 rejected (17.33% of sent): bad_field 310, rate 173,000" in text


def test_a_healthy_run_has_no_warnings() -> None:
    doc = report.build(_result(lag_ms=40, inputs=1000, rejected={"rate": 10}))  # lag p99 at 40 ms, 1 % rejected
    assert doc["warnings"] == [] and doc["tester"]["overloaded"] is False
    assert doc["inputs"]["rejected"] == 10 and doc["inputs"]["rejected_share"] == 0.01
    # Without the server's metrics the rejections are unknown, and nothing is claimed about them.
    unknown = report.build(_result(lag_ms=1, inputs=1000, rejected=None))
    assert unknown["inputs"]["rejected"] is None and unknown["warnings"] == []
    assert "unknown (no server metrics)" in summary.render(unknown) and "warnings" not in summary.render(unknown)
