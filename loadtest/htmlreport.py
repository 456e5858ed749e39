"""A self-contained HTML report: summary, verdict, tables and inline SVG plots. No scripts, no links."""

from __future__ import annotations

import html
import math
from typing import Any

PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#65a30d")

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1000px;color:#111;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#555;margin:0 0 16px}.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #ddd;border-radius:8px;padding:10px 14px;min-width:130px}
.card b{display:block;font-size:20px}.card span{color:#555;font-size:12px}
.pass{background:#dcfce7;border-color:#16a34a}.fail{background:#fee2e2;border-color:#dc2626}
.warn{background:#fef3c7;border:1px solid #d97706;border-radius:8px;padding:8px 12px;margin:10px 0}
table{border-collapse:collapse;margin:6px 0}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f6f6f6}
svg{display:block;margin:8px 0}svg text{font:11px system-ui,sans-serif;fill:#444}
.legend span{display:inline-block;margin-right:14px;font-size:12px}.legend i{display:inline-block;width:12px;height:3px;margin-right:4px;vertical-align:middle}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else _e(value)


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return float(step * magnitude)
    return float(value)


def _workers_table(tester: dict[str, Any]) -> str:
    """Each worker's CPU at full load and its own event-loop lag; the overload signs, if any."""
    rows = "".join(f"<tr><td>{_e(w['name'])}</td><td>{_num(w['cpu_pct_steady'])}</td><td>{_num(w['lag_p50_ms'], 2)}</td>"
                   f"<td>{_num(w['lag_p99_ms'], 2)}</td><td>{_num(w['lag_max_ms'], 2)}</td></tr>"
                   for w in tester.get("workers_detail") or [])
    table = ("<table><tr><th>worker</th><th>CPU at full load (%)</th><th>lag p50 (ms)</th><th>lag p99 (ms)</th>"
             f"<th>lag max (ms)</th></tr>{rows}</table>") if rows else ""
    reasons = "".join(f"<li>{_e(r['message'])}</li>" for r in tester.get("overload_reasons") or [])
    verdict = (f"<div class=warn><b>The load tester was overloaded:</b><ul>{reasons}</ul></div>" if reasons
               else "<p>The load tester was not overloaded (loop lag, worker CPU and sends within their limits).</p>")
    return table + verdict


def line_chart(title: str, series: list[tuple[str, list[tuple[float, float | None]]]], unit: str,
               width: int = 940, height: int = 230) -> str:
    """An SVG line chart; ``series`` is (label, [(x, y or None)]) with a shared x axis (seconds)."""
    left, right, top, bottom = 56, 12, 10, 26
    pts = [(x, y) for _, s in series for x, y in s if y is not None]
    if not pts:
        return f"<p><i>{_e(title)}: no samples</i></p>"
    xmax = max(x for x, _ in pts) or 1.0
    ymax = _nice_max(max(y for _, y in pts))
    w, h = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + w * x / xmax

    def py(y: float) -> float:
        return top + h - h * y / ymax

    out = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{_e(title)}">']
    for i in range(6):
        y = ymax * i / 5
        out.append(f'<line x1="{left}" x2="{left + w}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{y:g}</text>')
    for i in range(11):
        x = xmax * i / 10
        label = f"{x:.1f}" if xmax < 10 else f"{x:.0f}"
        out.append(f'<text x="{px(x):.1f}" y="{height - 8}" text-anchor="middle">{label}</text>')
    out.append(f'<text x="{left}" y="{top + 10}" dx="4">{_e(unit)}</text>')
    out.append(f'<text x="{left + w}" y="{height - 8}" text-anchor="end" dy="-12">seconds</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#ccc"/>')
    for n, (_, points) in enumerate(series):
        color = PALETTE[n % len(PALETTE)]
        segments: list[list[str]] = [[]]
        for x, value in points:
            if value is None:
                segments.append([])
            else:
                segments[-1].append(f"{px(x):.1f},{py(value):.1f}")
        for seg in segments:
            if len(seg) > 1:
                out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.8" points="{" ".join(seg)}"/>')
            elif seg:
                cx, cy = seg[0].split(",")
                out.append(f'<circle cx="{cx}" cy="{cy}" r="2" fill="{color}"/>')
    out.append("</svg>")
    legend = "".join(f'<span><i style="background:{PALETTE[n % len(PALETTE)]}"></i>{_e(label)}</span>'
                     for n, (label, _) in enumerate(series))
    return f"<h3>{_e(title)}</h3><div class=legend>{legend}</div>" + "".join(out)


def _series(rows: list[dict[str, Any]], key: str) -> list[tuple[float, float | None]]:
    return [(r["t"], r.get(key)) for r in rows]


def _timing_table(report: dict[str, Any]) -> str:
    names = [("latency_ms", "server → client latency"), ("input_rtt_ms", "input round trip"),
             ("join_ms", "join time"), ("tick_jitter_ms", "tick interval jitter"), ("ping_rtt_ms", "ping round trip"),
             ("match_ms", "time to match"), ("spectator_latency_ms", "spectator latency"),
             ("spectator_join_ms", "spectator join"), ("tester_lag_ms", "load tester event-loop lag")]
    head = ("<tr><th>ms</th><th>samples</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>p99.9</th>"
            "<th>max</th><th>mean</th></tr>")
    body = []
    for key, label in names:
        s = report[key]
        if not s["count"]:
            continue
        body.append(f"<tr><td>{_e(label)}</td><td>{_num(s['count'])}</td>" + "".join(
            f"<td>{_num(s.get(k), 2)}</td>" for k in ("p50", "p90", "p95", "p99", "p999", "max", "mean")) + "</tr>")
    return "<table>" + head + "".join(body) + "</table>"


def _inputs_table(inputs: dict[str, Any]) -> str:
    if not inputs:
        return "<p>No input counts.</p>"
    share = inputs.get("rejected_share")
    rows = [("sent", _num(inputs["sent"])), ("acknowledged by the server", _num(inputs["acked"])),
            ("rejected by the server", "unknown (no server metrics)" if inputs["rejected"] is None else
             f"{_num(inputs['rejected'])} ({share:.2%} of sent)")]
    rows += [(f"rejected: {reason}", _num(n)) for reason, n in inputs.get("rejected_by_reason", {}).items()]
    return "<table>" + "".join(f"<tr><td>{_e(k)}</td><td>{v}</td></tr>" for k, v in rows) + "</table>"


def _kv_table(title: str, data: dict[str, Any]) -> str:
    if not data:
        return f"<p>{_e(title)}: none.</p>"
    rows = "".join(f"<tr><td>{_e(k)}</td><td>{_num(v)}</td></tr>" for k, v in data.items())
    return f"<table><tr><th>{_e(title)}</th><th>count</th></tr>{rows}</table>"


def _server_table(report: dict[str, Any]) -> str:
    delta = report["server"].get("delta")
    if not delta:
        return "<p>The server's metrics were not available.</p>"
    c = report["counts"]
    ours = {"frames_out": c.get("deltas", 0), "inputs": c.get("inputs_sent", 0), "joins_ok": c.get("joins", 0),
            "connections": c.get("connects", 0)}
    rows = "".join(f"<tr><td>{_e(k)}</td><td>{_num(v)}</td><td>{_num(ours.get(k))}</td></tr>"
                   for k, v in delta.items())
    return ("<table><tr><th>game server counter (change over the run)</th><th>server</th>"
            "<th>load tester</th></tr>" + rows + "</table>")


def render(report: dict[str, Any]) -> str:
    sc = report["scenario"]
    verdict = report.get("thresholds") or {"passed": True, "checked": []}
    ok = verdict["passed"]
    lat, rtt, lag = report["latency_ms"], report["input_rtt_ms"], report.get("tester_lag_ms") or {}
    inputs = report.get("inputs") or {}
    warnings = report.get("warnings") or []
    codes = {w["code"] for w in warnings}
    cards = [
        ("pass" if ok else "fail", "PASS" if ok else "FAIL", "thresholds"),
        ("", _num(report["players_peak_connected"]), f"peak players of {report['players']:,}"),
        ("", _num(lat["p50"], 2), "latency p50 (ms)"),
        ("", _num(lat.get("p95"), 2), "latency p95 (ms)"),
        ("", _num(lat["p99"], 2), "latency p99 (ms)"),
        ("", _num(rtt.get("p95"), 2), "input round trip p95 (ms)"),
        ("", _num(rtt["p99"], 2), "input round trip p99 (ms)"),
        ("fail" if "inputs_rejected" in codes else "", _num(inputs.get("rejected")),
         f"inputs rejected of {inputs.get('sent', 0):,} sent"),
        ("fail" if "tester_overloaded" in codes else "", _num(lag.get("p99"), 1), "tester loop lag p99 (ms)"),
        ("", _num(report["errors"]), "errors"),
        ("", _num(report["disconnects"]), "disconnects"),
        ("", _num(report["server"]["cpu_pct_mean"]), "server CPU at full load (%)"),
        ("", _num(report["tester"]["cpu_pct_steady"]), "tester CPU at full load (%)"),
    ]
    cards_html = "".join(f'<div class="card {cls}"><b>{_e(value)}</b><span>{_e(label)}</span></div>'
                         for cls, value, label in cards)
    checks = "".join(
        f"<tr><td>{_e(c['name'])}</td><td>{_num(c['limit'], 3)}</td><td>{_num(c['value'], 3)}</td>"
        f"<td>{'ok' if c['ok'] else '<b>failed</b>'}</td></tr>" for c in verdict["checked"])
    rows = report["timeline"]
    charts = [
        line_chart("Server → client latency per second", [
            ("p50", _series(rows, "latency_p50_ms")), ("p90", _series(rows, "latency_p90_ms")),
            ("p95", _series(rows, "latency_p95_ms")), ("p99", _series(rows, "latency_p99_ms")),
            ("max", _series(rows, "latency_max_ms")), ("input round trip p95", _series(rows, "input_rtt_p95_ms")),
            ("input round trip p99", _series(rows, "input_rtt_p99_ms"))], "ms"),
        line_chart("Connected players", [("connected", _series(rows, "connected")),
                                         ("started", _series(rows, "started"))], "players"),
        line_chart("Throughput", [("messages in / s", _series(rows, "msgs_in_per_s")),
                                  ("inputs out / s", _series(rows, "inputs_per_s"))], "per second"),
        line_chart("CPU", [("server", _series(rows, "server_cpu_pct")),
                           ("load tester (all workers)", _series(rows, "tester_cpu_pct"))], "% of one core"),
        line_chart("Load tester event-loop lag per second (over one tick at p99: the tester is overloaded)", [
            ("p99", _series(rows, "tester_lag_p99_ms")), ("max", _series(rows, "tester_lag_max_ms"))], "ms"),
    ]
    pp = report["per_player"]
    tester = report["tester"]
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>Load test: {_e(sc['name'])}</title>
<meta name=viewport content="width=device-width,initial-scale=1"><style>{CSS}</style></head><body>
<h1>Load test: {_e(sc['name'])} — {'passed' if ok else 'failed'}</h1>
<p class=sub>{_e(sc.get('description') or '')}<br>{_e(report['started_at'])} · {_num(report['duration_s'])} s ·
{_e(report['target']['flow'])} flow against {_e(report['target']['url'])} · {report['workers']} worker(s) ·
run {_e(report['run_id'])}{' · <b>interrupted</b>' if report['interrupted'] else ''}</p>
{''.join(f'<p class=warn><b>Warning:</b> {_e(w["message"])}</p>' for w in warnings)}
<div class=cards>{cards_html}</div>
<h2>Thresholds</h2>
{'<table><tr><th>threshold</th><th>limit</th><th>measured</th><th></th></tr>' + checks + '</table>' if checks else '<p>No thresholds were set.</p>'}
{''.join(f'<p><b>Run problem:</b> {_e(f)}</p>' for f in report['failures'])}
<h2>Inputs</h2>
{_inputs_table(inputs)}
<h2>Over time</h2>
{''.join(charts)}
<h2>Timings</h2>
{_timing_table(report)}
<h2>Per player</h2>
<table><tr><th></th><th>mean</th><th>p50</th><th>p95</th><th>p99</th></tr>
<tr><td>messages in / s</td><td>{_num(pp['msgs_in_per_s_mean'], 2)}</td><td>{_num(pp['msgs_in_per_s']['p50'], 2)}</td><td>{_num(pp['msgs_in_per_s'].get('p95'), 2)}</td><td>{_num(pp['msgs_in_per_s']['p99'], 2)}</td></tr>
<tr><td>bytes in / s</td><td>{_num(pp['bytes_in_per_s_mean'])}</td><td>{_num(pp['bytes_in_per_s']['p50'])}</td><td>{_num(pp['bytes_in_per_s'].get('p95'))}</td><td>{_num(pp['bytes_in_per_s']['p99'])}</td></tr>
<tr><td>messages out / s</td><td>{_num(pp['msgs_out_per_s_mean'], 2)}</td><td></td><td></td><td></td></tr>
<tr><td>bytes out / s</td><td>{_num(pp['bytes_out_per_s_mean'])}</td><td></td><td></td><td></td></tr></table>
<h2>Errors and disconnects</h2>
{_kv_table('error', report['errors_by_cause'])}
{_kv_table('disconnect cause', report['disconnects_by_cause'])}
<h2>The server's own view</h2>
{_server_table(report)}
<h2>The load tester</h2>
<table><tr><td>CPU at full load (all workers)</td><td>{_num(tester['cpu_pct_steady'])} %</td></tr>
<tr><td>CPU per 100 players</td><td>{_num(tester['cpu_pct_per_100_players'], 2)} % of one core</td></tr>
<tr><td>memory per player</td><td>{_num(tester['memory_kb_per_player'])} KiB</td></tr>
<tr><td>memory (baseline → peak)</td><td>{_num(tester['rss_mb_baseline'])} → {_num(tester['rss_mb_peak'])} MiB</td></tr>
<tr><td>event-loop lag p50 / p95 / p99 / max</td><td>{' / '.join(_num(lag.get(k), 1) for k in ('p50', 'p95', 'p99', 'max'))} ms{' — <b>overloaded</b>' if tester.get('overloaded') else ''}</td></tr>
<tr><td>inputs sent late / never sent (dropped)</td><td>{_num(tester.get('sends_late', 0))} / {_num(tester.get('sends_dropped', 0))}</td></tr></table>
{_workers_table(tester)}
<h2>Scenario</h2>
<table>{''.join(f'<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>' for k, v in sc.items())}</table>
</body></html>
"""
