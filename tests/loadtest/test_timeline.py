"""The per-second rows: a steady rate plots steady, whatever the phase of the workers' reports."""

from __future__ import annotations

from typing import Any

import pytest

from loadtest.measure import Aggregate, Recorder
from loadtest.timeline import Timeline

T0 = 1_000.0
RATE = 200  # messages per second per worker
LATENCY_US = 3_000


def _steady(workers: int, period_s: float, phase_s: float, seconds: float) -> list[dict[str, Any]]:
    """Workers receiving RATE messages a second each, reporting every ``period_s``, as the runner sees them.

    Events are replayed in time order: each message is recorded by its worker's real Recorder,
    each report goes through the real Aggregate into the Timeline the runner uses, and the
    runner asks for finished rows whenever it wakes (on a report, and once a second).
    """
    recorders = [Recorder() for _ in range(workers)]
    agg, timeline = Aggregate(), Timeline(T0)
    for w in range(workers):
        timeline.add(f"worker-{w}", T0, {"msgs_in": 0, "cpu_s": 0.05}, {"connected": 0})  # at the start signal
    events: list[tuple[float, int, str]] = []
    for w in range(workers):
        events += [(T0 + (i + 0.5) / RATE, w, "msg") for i in range(int(seconds * RATE))]
        k = 1
        while (t := T0 - 0.5 + phase_s * w + k * period_s) < T0 + seconds:
            events.append((t, w, "report"))
            k += 1
        events.append((T0 + seconds, w, "done"))
    events += [(T0 + s, -1, "tick") for s in range(1, int(seconds) + 1)]
    rows: list[dict[str, Any]] = []
    for t, w, kind in sorted(events):
        if kind == "msg":
            recorders[w].msgs_in += 1
            recorders[w].time_us("latency", LATENCY_US)
            continue
        if kind in ("report", "done"):
            snap = recorders[w].take()
            decoded = agg.add(w, snap)
            timeline.add(f"worker-{w}", t, {"msgs_in": snap["counts"]["msgs_in"], "cpu_s": 0.1 * (t - T0 + 0.5)},
                         {"connected": 10}, decoded)
            if kind == "done":
                timeline.close(f"worker-{w}")
        rows += timeline.ready(t + 0.002)
    return rows + timeline.flush()


@pytest.mark.parametrize(("period_s", "phase_s"), [
    (1.0, 0.0),    # reports on the row boundaries
    (1.03, 0.0),   # a worker that takes 30 ms to report drifts through the boundaries
    (1.25, 0.37),  # a slow report period and workers out of phase with each other
    (0.7, 0.1),    # more than one report a second
])
def test_a_steady_rate_plots_steady(period_s: float, phase_s: float) -> None:
    rows = _steady(workers=2, period_s=period_s, phase_s=phase_s, seconds=20)
    assert [r["t"] for r in rows] == [float(s) for s in range(1, 21)]
    rates = [r["msgs_in_per_s"] for r in rows]
    assert rates == [pytest.approx(2 * RATE, rel=0.01)] * 20, rates  # no zero and no double second
    assert all(r["tester_cpu_pct"] == pytest.approx(20.0, rel=0.01) for r in rows)
    assert all(r["connected"] == 20 for r in rows[2:])
    # Every second has latency samples, of the value recorded.
    assert all(r["latency_p50_ms"] == pytest.approx(LATENCY_US / 1000, rel=0.01) for r in rows[1:])


def test_a_row_waits_for_every_worker_until_one_is_too_late() -> None:
    timeline = Timeline(T0, hold_s=3.0)
    for w in ("worker-0", "worker-1"):
        timeline.add(w, T0, {"msgs_in": 0})
    timeline.add("worker-0", T0 + 1.0, {"msgs_in": 100})
    assert timeline.ready(T0 + 1.1) == []  # worker-1 has not reported the first second yet
    timeline.add("worker-1", T0 + 1.5, {"msgs_in": 150})
    (first,) = timeline.ready(T0 + 1.5)
    assert first["t"] == 1.0 and first["msgs_in_per_s"] == pytest.approx(200)
    # worker-1 falls silent: the next rows go out without it once it is hold_s late.
    timeline.add("worker-0", T0 + 5.0, {"msgs_in": 500})
    assert timeline.ready(T0 + 4.9) == []
    late = timeline.ready(T0 + 5.1)
    assert [r["t"] for r in late] == [2.0]
    assert late[0]["msgs_in_per_s"] == pytest.approx(150)  # worker-0's 100 plus worker-1's half second


def test_flushing_ends_at_the_last_report_even_with_a_source_still_open() -> None:
    timeline = Timeline(T0)
    timeline.add("server", T0, {"server_cpu_s": 0.0})
    timeline.add("worker-0", T0, {"cpu_s": 0.0})
    timeline.add("worker-0", T0 + 2.5, {"cpu_s": 0.5})
    timeline.add("server", T0 + 1.2, {"server_cpu_s": 0.6})
    timeline.close("worker-0")
    rows = timeline.flush()
    assert [r["t"] for r in rows] == [1.0, 2.0, 2.5]
    assert [r["tester_cpu_pct"] for r in rows] == [20.0, 20.0, 20.0]
    assert rows[0]["server_cpu_pct"] == 50.0 and rows[1]["server_cpu_pct"] == 10.0
