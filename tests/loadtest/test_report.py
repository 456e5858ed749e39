"""Measurements merge exactly, thresholds judge correctly, the HTML stands alone."""

from __future__ import annotations

import io
import json
import re
from typing import Any

from loadtest import htmlreport, report
from loadtest.measure import Aggregate, Recorder, summarise
from loadtest.progress import Progress
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
    row = {"t": 1.0, "connected": 5, "msgs_in_per_s": 100.0, "latency_p99_ms": 1.5, "input_rtt_p99_ms": None,
           "errors": 0, "tester_cpu_pct": 3.0, "server_cpu_pct": None}
    tty, log = io.StringIO(), io.StringIO()
    Progress(tty, tty=True).row(row, 10)
    assert tty.getvalue().startswith("\r\x1b[K") and "players      5/10" in tty.getvalue()
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
    assert gameserver_view(None) is None
    assert metrics_url_for("wss://play.example:443/v1/play") == "https://play.example:443/metrics"


_SAMPLE = {
    "run_id": "r1", "started_at": "2026-01-01T00:00:00+00:00", "duration_s": 3.0, "interrupted": False,
    "players": 2, "players_peak_connected": 2, "workers": 1, "errors": 0, "disconnects": 0, "failures": [],
    "scenario": {"name": "x", "description": ""}, "target": {"flow": "direct", "url": "ws://h/v1/play"},
    **{k: summarise(Recorder().hist["latency"]) for k in (
        "latency_ms", "input_rtt_ms", "join_ms", "tick_jitter_ms", "ping_rtt_ms", "match_ms",
        "spectator_latency_ms", "spectator_join_ms")},
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
