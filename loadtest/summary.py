"""The end-of-run summary for people: what was checked, what was sent and seen, how long it took.

Printed on stderr at the end of a run (not with ``--quiet``), after the reports are written;
built from the JSON report alone, so it says nothing the report does not. Pure: a string.
"""

from __future__ import annotations

from typing import Any

TIMINGS = (("latency_ms", "latency"), ("input_rtt_ms", "input round trip"), ("join_ms", "join"),
           ("ping_rtt_ms", "ping round trip"), ("tick_jitter_ms", "tick jitter"), ("match_ms", "time to match"),
           ("spectator_latency_ms", "spectator latency"), ("spectator_join_ms", "spectator join"),
           ("tester_lag_ms", "tester loop lag"))
COLUMNS = (("mean", "avg"), ("min", "min"), ("p50", "med"), ("p90", "p90"), ("p95", "p95"), ("p99", "p99"),
           ("max", "max"))
LABEL_WIDTH = 30


def _n(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,.0f} B"


def _line(label: str, text: str) -> str:
    return f"  {label} {'.' * max(2, LABEL_WIDTH - len(label))} {text}"


def _by_cause(causes: dict[str, int]) -> str:
    total = sum(causes.values())
    if not total:
        return "none"
    return f"{total:,}: " + ", ".join(f"{cause} {n:,}" for cause, n in sorted(causes.items(), key=lambda kv: -kv[1]))


def render(report: dict[str, Any], *, unicode: bool = True) -> str:
    ok_mark, bad_mark, dash = ("✓", "✗", "—") if unicode else ("ok", "FAIL", "-")
    verdict = report.get("thresholds") or {"passed": not report["failures"], "checked": []}
    sc, target, counts = report["scenario"], report["target"], report["counts"]
    duration = max(1e-9, float(report["duration_s"]))
    out = [f"loadtest {sc['name']}: {'PASSED' if verdict['passed'] else 'FAILED'} {dash} {report['players']:,} players, "
           f"{target['flow']} flow against {target['url']}, {report['duration_s']:g} s, {report['workers']} worker(s)"
           + (" (interrupted)" if report["interrupted"] else ""), ""]

    out.append("  thresholds")
    if not verdict["checked"]:
        out.append("    none set")
    for c in verdict["checked"]:
        mark = ok_mark if c["ok"] else bad_mark
        label = f"{mark} {c['name']}"
        out.append("  " + _line(label, f"{_n(c['value'], 3)} (limit {c['limit']:g})"))
    for failure in report["failures"]:
        out.append(f"    {bad_mark} run problem: {failure}")
    out.append("")

    inputs = report.get("inputs") or {}
    rejected = inputs.get("rejected")
    rejected_text = ("unknown (no server metrics)" if rejected is None else
                     f"{rejected:,} rejected ({inputs['rejected_share']:.2%} of sent)")
    reasons = inputs.get("rejected_by_reason") or {}
    if reasons:
        rejected_text += ": " + ", ".join(f"{k} {v:,}" for k, v in reasons.items())
    out += [
        _line("players", f"{report['players']:,} planned, {report['players_started']:,} started, "
                         f"{report['players_peak_connected']:,} peak connected, {counts.get('gave_up', 0):,} gave up, "
                         f"{counts.get('retries', 0):,} retries"),
        _line("inputs", f"{counts.get('inputs_sent', 0):,} sent, {counts.get('inputs_acked', 0):,} acked, "
                        + rejected_text),
        _line("messages", f"{counts.get('msgs_in', 0):,} in ({counts.get('msgs_in', 0) / duration:,.1f}/s), "
                          f"{counts.get('msgs_out', 0):,} out ({counts.get('msgs_out', 0) / duration:,.1f}/s)"),
        _line("data", f"{_bytes(counts.get('bytes_in', 0))} in ({_bytes(counts.get('bytes_in', 0) / duration)}/s), "
                      f"{_bytes(counts.get('bytes_out', 0))} out ({_bytes(counts.get('bytes_out', 0) / duration)}/s)"),
        "",
        f"  {'timings (ms)':<20}" + "".join(f"{head:>9}" for _, head in COLUMNS) + f"{'count':>10}",
    ]
    for key, label in TIMINGS:
        timing = report.get(key) or {}
        if timing.get("count"):
            out.append(f"  {label:<20}" + "".join(f"{_n(timing.get(k)):>9}" for k, _ in COLUMNS)
                       + f"{timing['count']:>10,}")
    tester = report.get("tester") or {}
    detail = tester.get("workers_detail") or []
    if detail:
        out += ["", f"  {'load tester':<28}{'CPU %':>9}{'lag p50':>9}{'lag p99':>9}{'lag max':>9}"]
        for w in detail:
            out.append(f"  {w['name'][:28]:<28}{_n(w['cpu_pct_steady'], 1):>9}{_n(w['lag_p50_ms']):>9}"
                       f"{_n(w['lag_p99_ms']):>9}{_n(w['lag_max_ms']):>9}")
        out.append(_line("tester", ("OVERLOADED" if tester.get("overloaded") else "not overloaded")
                         + f", {tester.get('sends_late', 0):,} sends late, {tester.get('sends_dropped', 0):,} dropped"))
    out += ["", _line("errors", _by_cause(report["errors_by_cause"])),
            _line("disconnects", _by_cause(report["disconnects_by_cause"]))]
    warnings = report.get("warnings") or []
    if warnings:
        out += ["", "  warnings"] + [f"    ! {w['message']}" for w in warnings]
    return "\n".join(out) + "\n"


def can_print_marks(encoding: str | None) -> bool:
    """Whether a stream with this encoding can show ✓ and ✗ (else the summary says ok / FAIL)."""
    try:
        "✓✗—".encode(encoding or "ascii")
    except (LookupError, UnicodeEncodeError):
        return False
    return True
