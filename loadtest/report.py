"""The JSON report (schema ``elysium.loadtest/2``, documented in ``docs/loadtest.md``) and thresholds.

Stable top-level keys: ``players``, ``duration_s``, ``latency_ms`` (``p50``, ``p99`` ...),
``input_rtt_ms``, ``errors`` (a count) with ``errors_by_cause``, ``thresholds``. New keys
may be added; existing ones keep their meaning.
"""

from __future__ import annotations

import datetime as dt
import platform
from typing import Any

from loadtest.measure import new_histogram, summarise
from loadtest.runner import RunResult
from loadtest.scenario import THRESHOLDS

SCHEMA = "elysium.loadtest/2"
# The tester is overloaded (its latencies may be its own) when any of these is passed:
# its event-loop lag p99 over one tick period (50 ms at 20 Hz), a worker's CPU at full load
# over CPU_PCT_LIMIT of a core, or the sends its workers dropped or sent late over a share of
# the inputs (``loadtest.ticker``).
DEFAULT_TICK_HZ = 20
TESTER_LAG_P99_WARN_MS = 1000.0 / DEFAULT_TICK_HZ
WORKER_CPU_PCT_LIMIT = 90.0
SENDS_DROPPED_SHARE_LIMIT = 0.01
SENDS_LATE_SHARE_LIMIT = 0.05
# Above this share of the inputs sent, the server's rejections are flagged.
REJECTED_SHARE_WARN = 0.01
TESTER_CHECK_MEANING = ("signs that the load tester itself was overloaded (loop lag, worker CPU, late or dropped "
                        "sends) must be at most this; --tester-overload warn makes them a warning only")


def _round(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def _steady(rows: list[dict[str, Any]], ramp_s: float, duration_s: float) -> list[dict[str, Any]]:
    """Time-series rows at full load (after the ramp, before the end); all rows when there are none."""
    inside = [r for r in rows if ramp_s + 1.0 <= r["t"] <= ramp_s + duration_s]
    return inside or rows


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(sum(vals) / len(vals), 2) if vals else None


def build(result: RunResult) -> dict[str, Any]:
    sc, agg = result.scenario, result.aggregate
    counts = agg.counts()
    errors, disconnects = agg.errors(), agg.disconnects()
    total = agg.total
    duration = result.ended_at - result.started_at
    steady = _steady(result.rows, sc.ramp_s, sc.duration_s)
    peak = max(result.peak_connected, 1)
    player_seconds = counts["connected_ms"] / 1000
    tester_mem = max(0, result.tester_peak_rss - result.tester_baseline_rss)
    steady_cpu = _mean([r["tester_cpu_pct"] for r in steady])
    steady_players = _mean([r["connected"] for r in steady]) or 0
    server: dict[str, Any] = {"metrics_url": result.target.metrics_url, "pid_known": result.target.server_pid is not None,
                              "before": result.server_before, "after": result.server_after, "delta": None,
                              "cpu_pct_mean": _mean([r["server_cpu_pct"] for r in steady]),
                              "cpu_pct_max": max((r["server_cpu_pct"] for r in result.rows
                                                  if r["server_cpu_pct"] is not None), default=None),
                              "cpu_s": _round(result.server_cpu_s),
                              "rss_mb_peak": _round(result.server_peak_rss / 2**20, 1) if result.server_peak_rss else None}
    if result.server_before is not None and result.server_after is not None:
        server["delta"] = {k: result.server_after[k] - result.server_before.get(k, 0.0)
                           for k in result.server_after if k not in ("players", "players_connected")}
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "run_id": result.run_id,
        "scenario": sc.to_json(),
        "target": {"url": result.target.url, "server_id": result.target.server_id, "flow": sc.flow,
                   "started_local_stack": result.target.started_stack},
        "started_at": dt.datetime.fromtimestamp(result.started_at, dt.UTC).isoformat(timespec="seconds"),
        "duration_s": round(duration, 2),
        "interrupted": result.interrupted,
        "players": sc.players,
        "players_started": max((r["started"] for r in result.rows), default=0),
        "players_peak_connected": result.peak_connected,
        "workers": result.workers,
        "latency_ms": summarise(total["latency"]),
        "input_rtt_ms": summarise(total["input_rtt"]),
        "join_ms": summarise(total["join"]),
        "tick_jitter_ms": summarise(total["tick_jitter"]),
        "ping_rtt_ms": summarise(total["ping_rtt"]),
        "match_ms": summarise(total["match"]),
        "spectator_latency_ms": summarise(total["spectator_latency"]),
        "spectator_join_ms": summarise(total["spectator_join"]),
        "tester_lag_ms": summarise(total["tester_lag"]),
        "per_player": {
            "msgs_in_per_s": summarise(total["player_msgs_per_s"], scale=1000.0),
            "bytes_in_per_s": summarise(total["player_bytes_per_s"], scale=1.0),
            "msgs_in_per_s_mean": _round(counts["msgs_in"] / player_seconds, 2) if player_seconds else None,
            "bytes_in_per_s_mean": _round(counts["bytes_in"] / player_seconds, 1) if player_seconds else None,
            "msgs_out_per_s_mean": _round(counts["msgs_out"] / player_seconds, 2) if player_seconds else None,
            "bytes_out_per_s_mean": _round(counts["bytes_out"] / player_seconds, 1) if player_seconds else None,
        },
        "counts": dict(sorted(counts.items())),
        "errors": sum(errors.values()),
        "errors_by_cause": dict(sorted(errors.items())),
        "disconnects": sum(disconnects.values()),
        "disconnects_by_cause": dict(sorted(disconnects.items())),
        "tester": {
            "host": platform.node(),
            "cpus": _cpus(),
            "workers": result.workers,
            "cpu_s": round(result.tester_cpu_s, 2),
            "cpu_pct_steady": steady_cpu,
            "cpu_pct_per_100_players": _round(100 * steady_cpu / steady_players, 2)
            if steady_cpu is not None and steady_players else None,
            "rss_mb_baseline": round(result.tester_baseline_rss / 2**20, 1),
            "rss_mb_peak": round(result.tester_peak_rss / 2**20, 1),
            "memory_kb_per_player": round(tester_mem / peak / 1024, 1),
        },
        "server": server,
        "inputs": _inputs(counts, server["delta"]),
        "failures": result.failures,
        "timeline": result.rows,
    }
    report["tester"].update(_tester_health(result, report, counts))
    report["warnings"] = warnings(report)
    return report


def _worker_cpu_pct(samples: list[tuple[float, float]], start: float, end: float) -> float | None:
    """A worker's CPU over [start, end] (% of one core) from its (time, CPU s) reports; None with fewer than two."""
    use = [s for s in samples if start <= s[0] <= end]
    if len(use) < 2 or use[-1][0] <= use[0][0]:
        return None
    return round(100 * (use[-1][1] - use[0][1]) / (use[-1][0] - use[0][0]), 1)


def _tester_health(result: RunResult, report: dict[str, Any], counts: dict[str, int]) -> dict[str, Any]:
    """Each worker's CPU and loop lag, the late and dropped sends, and whether the tester was overloaded."""
    sc = result.scenario
    start = result.started_at + sc.ramp_s + 1.0
    end = result.started_at + sc.ramp_s + sc.duration_s
    workers: list[dict[str, Any]] = []
    for w in sorted(set(result.worker_names) | set(result.worker_cpu)):
        lag = result.aggregate.lag_by_worker.get(w)
        lag_sum = summarise(lag) if lag is not None else summarise(new_histogram())
        workers.append({"worker": w, "name": result.worker_names.get(w, f"worker {w}"),
                        "cpu_pct_steady": _worker_cpu_pct(result.worker_cpu.get(w, []), start, end),
                        "cpu_pct_run": _worker_cpu_pct(result.worker_cpu.get(w, []), result.started_at,
                                                       result.ended_at),
                        "lag_p50_ms": lag_sum["p50"], "lag_p99_ms": lag_sum["p99"], "lag_max_ms": lag_sum["max"]})
    sent, late, dropped = counts["inputs_sent"], counts["sends_late"], counts["sends_dropped"]
    lag_limit = 1000.0 / (sc.tick_hz or DEFAULT_TICK_HZ)
    reasons = []
    lag_p99 = report["tester_lag_ms"]["p99"]
    if lag_p99 is not None and lag_p99 > lag_limit:
        reasons.append({"code": "loop_lag", "value": lag_p99, "limit": lag_limit,
                        "message": f"its event loop ran {lag_p99:,.1f} ms late at p99 (over one tick, {lag_limit:g} ms)"})
    busiest = max(workers, key=lambda x: x["cpu_pct_steady"] or 0.0, default=None)
    if busiest is not None and (busiest["cpu_pct_steady"] or 0.0) > WORKER_CPU_PCT_LIMIT:
        reasons.append({"code": "worker_cpu", "value": busiest["cpu_pct_steady"], "limit": WORKER_CPU_PCT_LIMIT,
                        "message": f"{busiest['name']} used {busiest['cpu_pct_steady']:.0f} % of a core at full load "
                                   f"(over {WORKER_CPU_PCT_LIMIT:g} %)"})
    planned = sent + dropped
    if planned and dropped / planned > SENDS_DROPPED_SHARE_LIMIT:
        reasons.append({"code": "sends_dropped", "value": round(dropped / planned, 4), "limit": SENDS_DROPPED_SHARE_LIMIT,
                        "message": f"it never sent {dropped:,} inputs ({dropped / planned:.1%}) because its workers "
                                   f"missed whole ticks"})
    if sent and late / sent > SENDS_LATE_SHARE_LIMIT:
        reasons.append({"code": "sends_late", "value": round(late / sent, 4), "limit": SENDS_LATE_SHARE_LIMIT,
                        "message": f"it sent {late:,} inputs ({late / sent:.1%}) more than half a tick late"})
    return {"overloaded": bool(reasons), "overload_reasons": reasons, "sends_late": late, "sends_dropped": dropped,
            "workers_detail": workers,
            "limits": {"loop_lag_p99_ms": lag_limit, "worker_cpu_pct": WORKER_CPU_PCT_LIMIT,
                       "sends_dropped_share": SENDS_DROPPED_SHARE_LIMIT, "sends_late_share": SENDS_LATE_SHARE_LIMIT}}


def _inputs(counts: dict[str, int], delta: dict[str, float] | None) -> dict[str, Any]:
    """Inputs sent and acknowledged (ours), and rejected (the server's count; None without its metrics)."""
    sent = counts["inputs_sent"]
    rejected = int(delta.get("rejected_inputs", 0)) if delta is not None else None
    by_reason = {k.split(".", 1)[1]: int(v) for k, v in sorted((delta or {}).items())
                 if k.startswith("rejected_inputs.") and v}
    return {"sent": sent, "acked": counts["inputs_acked"], "rejected": rejected,
            "rejected_share": None if rejected is None else round(rejected / max(1, sent), 4),
            "rejected_by_reason": by_reason}


def warnings(report: dict[str, Any]) -> list[dict[str, Any]]:
    """What makes the run's figures doubtful, though no threshold failed: ``code``, ``message``, ``value``, ``limit``."""
    out = []
    reasons = report["tester"].get("overload_reasons") or []
    if reasons:
        out.append({"code": "tester_overloaded", "value": reasons[0]["value"], "limit": reasons[0]["limit"],
                    "message": "the load tester was overloaded: " + "; ".join(r["message"] for r in reasons)
                               + ", so the latencies may be the tester's, not the server's; give it more workers, "
                                 "cores or agents"})
    inputs = report["inputs"]
    share = inputs["rejected_share"]
    if share is not None and share > REJECTED_SHARE_WARN:
        reasons = ", ".join(f"{k} {v:,}" for k, v in inputs["rejected_by_reason"].items())
        out.append({"code": "inputs_rejected", "value": share, "limit": REJECTED_SHARE_WARN,
                    "message": f"the server rejected {inputs['rejected']:,} inputs, {share:.1%} of the "
                               f"{inputs['sent']:,} sent (over {REJECTED_SHARE_WARN:.0%})"
                               + (f": {reasons}" if reasons else "")})
    return out


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _number(value: object) -> float | None:
    """A percentile as the report holds it: a number, or None when nothing was measured."""
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    raise TypeError(f"not a number: {value!r}")


def _value(report: dict[str, Any], name: str) -> float | None:
    if name == "max_p99_ms":
        return _number(report["latency_ms"]["p99"])
    if name == "max_p50_ms":
        return _number(report["latency_ms"]["p50"])
    if name == "max_input_rtt_p99_ms":
        return _number(report["input_rtt_ms"]["p99"])
    if name == "max_join_p99_ms":
        return _number(report["join_ms"]["p99"])
    if name == "max_error_rate":
        return int(report["errors"]) / max(1, int(report["players"]))
    if name == "min_connected_ratio":
        return int(report["players_peak_connected"]) / max(1, int(report["players"]))
    raise KeyError(name)


def check(report: dict[str, Any], limits: dict[str, float], *, tester_overload: str = "fail") -> dict[str, Any]:
    """Compare the report with the limits; a metric without samples fails its limit.

    With ``tester_overload="fail"`` (the default) an overloaded tester is a failed check of its own
    (``tester_not_overloaded``: the signs of overload counted, limit 0); ``"warn"`` leaves it a warning.
    """
    checked = []
    for name, limit in limits.items():
        assert name in THRESHOLDS
        value = _value(report, name)
        ok = value is not None and (value >= limit if name.startswith("min_") else value <= limit)
        checked.append({"name": name, "limit": limit, "value": None if value is None else round(value, 4),
                        "ok": ok, "meaning": THRESHOLDS[name]})
    if tester_overload == "fail" and "tester" in report:
        signs = len(report["tester"].get("overload_reasons") or [])
        checked.append({"name": "tester_not_overloaded", "limit": 0, "value": signs, "ok": signs == 0,
                        "meaning": TESTER_CHECK_MEANING})
    passed = all(c["ok"] for c in checked) and not report["failures"]
    return {"passed": passed, "checked": checked}
