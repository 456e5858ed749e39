"""The time series: one row a second, each holding what happened in that second.

Workers report cumulative counters a little after each second, each on its own clock
phase, and a report can be late when a worker is busy. Rows are therefore bucketed by when
things happened, not by when the runner heard of them: the increase of a counter between
two reports of a source is spread over the seconds the two reports span, in proportion to
the time, so a steady rate gives the same value every second (bucketing by arrival gave a
zero and a double every few seconds, which read like server stalls). A row is finished
once every open source has reported past its end, or ``hold_s`` after its end (a later
share from that source is then left out of the rows; the run's totals stay exact).

Percentiles cannot be split: an interval histogram goes to the second holding the middle
of the interval it covers. Gauges (connected players, errors so far) are taken from the
first report at or after the end of the second. Pure: no I/O, no clock of its own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from loadtest.measure import new_histogram

ROW_EVERY_S = 1.0
HOLD_S = 3.0
ROW_HISTOGRAMS = ("latency", "input_rtt", "tester_lag")


@dataclass
class _Source:
    t: float  # time of the last report
    counters: dict[str, float]
    gauges: dict[str, float]
    first_t: float
    open: bool = True


@dataclass
class _Bucket:
    counters: dict[str, float] = field(default_factory=dict)
    gauges: dict[str, dict[str, float]] = field(default_factory=dict)  # source -> gauges at the end
    hist: dict[str, HdrHistogram] = field(default_factory=dict)


class Timeline:
    def __init__(self, t0: float, every_s: float = ROW_EVERY_S, hold_s: float = HOLD_S) -> None:
        self.t0 = t0
        self.every_s = every_s
        self.hold_s = hold_s
        self.sources: dict[str, _Source] = {}
        self.buckets: dict[int, _Bucket] = {}
        self.next_row = 0  # index of the first bucket not yet handed out

    def _start(self, k: int) -> float:
        return self.t0 + k * self.every_s

    def _bucket(self, k: int) -> _Bucket:
        bucket = self.buckets.get(k)
        if bucket is None:
            bucket = self.buckets[k] = _Bucket()
        return bucket

    def add(self, source: str, t: float, counters: Mapping[str, float], gauges: Mapping[str, float] | None = None,
            hist: Mapping[str, HdrHistogram] | None = None) -> None:
        """A report: ``source``'s cumulative ``counters`` and current ``gauges`` at time ``t``, and the
        interval histograms it recorded since its previous report. The first report is the baseline."""
        gauges = dict(gauges or {})
        prev = self.sources.get(source)
        if prev is None:
            self.sources[source] = _Source(t=t, counters=dict(counters), gauges=gauges, first_t=t)
            return
        t = max(t, prev.t)
        span = t - prev.t
        first = max(self.next_row, math.floor((prev.t - self.t0) / self.every_s))
        last = math.floor((t - self.t0) / self.every_s)
        for name, value in counters.items():
            grew = value - prev.counters.get(name, 0.0)
            if not grew or span <= 0:
                continue
            for k in range(max(0, first), last + 1):
                lo, hi = max(prev.t, self._start(k)), min(t, self._start(k + 1))
                if hi > lo:
                    bucket = self._bucket(k)
                    bucket.counters[name] = bucket.counters.get(name, 0.0) + grew * (hi - lo) / span
        # Gauges at the end of every second this report closes (the first report at or after it).
        for k in range(max(0, self.next_row), math.floor((t - self.t0) / self.every_s)):
            if self._start(k + 1) > prev.t:
                self._bucket(k).gauges[source] = gauges
        if hist:
            k = max(0, self.next_row, math.floor(((prev.t + t) / 2 - self.t0) / self.every_s))
            bucket = self._bucket(k)
            for name, h in hist.items():
                if name in ROW_HISTOGRAMS:
                    bucket.hist.setdefault(name, new_histogram()).add(h)
        prev.t, prev.counters, prev.gauges = t, dict(counters), gauges

    def close(self, source: str) -> None:
        """The source reports no more (finished or gone): rows no longer wait for it."""
        if source in self.sources:
            self.sources[source].open = False

    def ready(self, now: float) -> list[dict[str, Any]]:
        """The rows finished by ``now``, oldest first; each is handed out once."""
        rows = []
        while True:
            end = self._start(self.next_row + 1)
            if not any(s.t >= end for s in self.sources.values()):
                break  # nobody has reached the end of this second yet
            if now < end + self.hold_s and any(s.open and s.t < end for s in self.sources.values()):
                break  # a source may still report this second
            rows.append(self._row(self.next_row, end))
            self.next_row += 1
        return rows

    def flush(self) -> list[dict[str, Any]]:
        """Every remaining row up to the last report (the last one may cover part of a second)."""
        rows = self.ready(math.inf)
        last_t = max((s.t for s in self.sources.values()), default=self.t0)
        while self._start(self.next_row) < last_t - 1e-9:
            rows.append(self._row(self.next_row, min(last_t, self._start(self.next_row + 1))))
            self.next_row += 1
        return rows

    def _row(self, k: int, end: float) -> dict[str, Any]:
        bucket = self.buckets.pop(k, _Bucket())
        span = max(1e-6, end - self._start(k))
        rate = {name: value / span for name, value in bucket.counters.items()}
        gauges: dict[str, float] = {}
        for name, source in self.sources.items():
            for key, value in bucket.gauges.get(name, source.gauges).items():
                gauges[key] = gauges.get(key, 0) + value
        hist = bucket.hist
        server_cpu = "server" in self.sources
        return {
            "t": round(end - self.t0, 2),
            "started": int(gauges.get("started", 0)),
            "connected": int(gauges.get("connected", 0)),
            "spectators": int(gauges.get("spectators", 0)),
            "msgs_in_per_s": round(rate.get("msgs_in", 0.0), 1),
            "bytes_in_per_s": round(rate.get("bytes_in", 0.0), 1),
            "inputs_per_s": round(rate.get("inputs_sent", 0.0), 1),
            "latency_p50_ms": _pct(hist.get("latency"), 50),
            "latency_p90_ms": _pct(hist.get("latency"), 90),
            "latency_p95_ms": _pct(hist.get("latency"), 95),
            "latency_p99_ms": _pct(hist.get("latency"), 99),
            "latency_max_ms": _pct(hist.get("latency"), 100),
            "input_rtt_p95_ms": _pct(hist.get("input_rtt"), 95),
            "input_rtt_p99_ms": _pct(hist.get("input_rtt"), 99),
            "tester_lag_p99_ms": _pct(hist.get("tester_lag"), 99),
            "tester_lag_max_ms": _pct(hist.get("tester_lag"), 100),
            "errors": int(gauges.get("errors", 0)),
            "disconnects": int(gauges.get("disconnects", 0)),
            "tester_cpu_pct": round(100 * rate.get("cpu_s", 0.0), 1),
            "tester_rss_mb": round(gauges.get("rss_bytes", 0) / 2**20, 1),
            "server_cpu_pct": round(100 * rate.get("server_cpu_s", 0.0), 1) if server_cpu else None,
        }


def _pct(h: HdrHistogram | None, q: float) -> float | None:
    if h is None or not h.get_total_count():
        return None
    value = h.get_max_value() if q >= 100 else h.get_value_at_percentile(q)
    return round(float(value) / 1000, 3)
