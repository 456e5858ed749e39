"""Measurements: HdrHistograms and counters recorded by workers, merged by the runner.

A worker records into *interval* histograms and hands them over (encoded, compact) once a
second; the runner adds each interval into the run's totals and into that second's row of
the time series, so per-second percentiles and whole-run percentiles come from the same
samples. Every duration is recorded in microseconds and reported in milliseconds.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hdrh.histogram import HdrHistogram

MAX_US = 3_600_000_000  # one hour: anything slower is clamped
SIGNIFICANT_DIGITS = 3

# name -> what it measures (all in microseconds)
TIMINGS: dict[str, str] = {
    "latency": "server tick timestamp to client receive, per delta or keyframe",
    "input_rtt": "input sent until its sequence number is acknowledged for the player's seat",
    "tick_jitter": "|time between two received ticks - tick period|",
    "join": "connect start (or token in hand) until the welcome message",
    "match": "queue entry until a match is assigned (full flow)",
    "ping_rtt": "protocol ping sent until its pong",
    "spectator_latency": "server tick timestamp to spectator receive",
    "spectator_join": "spectator connect start until the first frame",
    "tester_lag": "how late the load tester's own event loop woke up (its overload inflates every timing)",
}
# Per-player rates recorded once per player when it stops.
RATES: dict[str, str] = {
    "player_msgs_per_s": "messages received per second per player (recorded in milli-messages)",
    "player_bytes_per_s": "bytes received per second per player",
}

COUNTERS = (
    "connects", "connect_failures", "joins", "join_failures", "retries", "msgs_in", "bytes_in", "msgs_out",
    "bytes_out", "inputs_sent", "inputs_acked", "deltas", "keyframes", "events", "pings", "pongs",
    "match_ends_seen", "clock_skew", "connected_ms", "gave_up", "assign_failures", "spectator_msgs",
    "spectator_bytes", "spectator_catchup",
)


def new_histogram() -> HdrHistogram:
    return HdrHistogram(1, MAX_US, SIGNIFICANT_DIGITS)


class Recorder:
    """One per worker process: every simulated player of the worker records here."""

    def __init__(self) -> None:
        self.hist: dict[str, HdrHistogram] = {name: new_histogram() for name in (*TIMINGS, *RATES)}
        self.latency = self.hist["latency"]
        self.input_rtt = self.hist["input_rtt"]
        self.tick_jitter = self.hist["tick_jitter"]
        self.counts: Counter[str] = Counter()
        self.disconnects: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.connected = 0
        self.spectators = 0
        self.players_done = 0
        # The hottest counters are attributes, folded into ``counts`` when taken.
        self.msgs_in = 0
        self.bytes_in = 0
        self.msgs_out = 0
        self.bytes_out = 0

    def time_us(self, name: str, value_us: float) -> None:
        self.hist[name].record_value(min(MAX_US, max(0, int(value_us))))

    def error(self, cause: str) -> None:
        self.errors[cause] += 1

    def disconnect(self, cause: str) -> None:
        self.disconnects[cause] += 1

    def take(self) -> dict[str, Any]:
        """Everything since the last take: encoded interval histograms plus cumulative counters."""
        hist: dict[str, bytes] = {}
        for name, h in self.hist.items():
            if h.get_total_count():
                hist[name] = h.encode()
                h.reset()
        counts = dict(self.counts)
        counts.update(msgs_in=self.msgs_in, bytes_in=self.bytes_in, msgs_out=self.msgs_out, bytes_out=self.bytes_out)
        return {"hist": hist, "counts": counts, "disconnects": dict(self.disconnects), "errors": dict(self.errors),
                "connected": self.connected, "spectators": self.spectators, "players_done": self.players_done}


def summarise(h: HdrHistogram, scale: float = 1000.0) -> dict[str, float | int | None]:
    """count, min, mean, p50, p90, p95, p99, p999, max, in ms for timings (``scale`` divides µs)."""
    n = h.get_total_count()
    if not n:
        return {"count": 0, "min": None, "mean": None, "p50": None, "p90": None, "p95": None, "p99": None,
                "p999": None, "max": None}

    def v(x: float) -> float:
        return round(x / scale, 3)

    return {"count": n, "min": v(h.get_min_value()), "mean": v(h.get_mean_value()),
            "p50": v(h.get_value_at_percentile(50)), "p90": v(h.get_value_at_percentile(90)),
            "p95": v(h.get_value_at_percentile(95)), "p99": v(h.get_value_at_percentile(99)), "p999": v(h.get_value_at_percentile(99.9)),
            "max": v(h.get_max_value())}


class Aggregate:
    """The runner's view: totals over the run plus the latest cumulative counters per worker."""

    def __init__(self) -> None:
        self.total: dict[str, HdrHistogram] = {name: new_histogram() for name in (*TIMINGS, *RATES)}
        self.by_worker: dict[int, dict[str, Any]] = {}

    def add(self, worker: int, snap: dict[str, Any]) -> dict[str, HdrHistogram]:
        """Fold one worker snapshot in; returns that snapshot's interval histograms, decoded."""
        decoded: dict[str, HdrHistogram] = {}
        for name, blob in snap["hist"].items():
            h = HdrHistogram.decode(blob)
            self.total[name].add(h)
            decoded[name] = h
        self.by_worker[worker] = snap
        return decoded

    def _sum(self, key: str) -> Counter[str]:
        out: Counter[str] = Counter()
        for snap in self.by_worker.values():
            out.update(snap[key])
        return out

    def counts(self) -> Counter[str]:
        out = self._sum("counts")
        for name in COUNTERS:
            out.setdefault(name, 0)
        return out

    def disconnects(self) -> Counter[str]:
        return self._sum("disconnects")

    def errors(self) -> Counter[str]:
        return self._sum("errors")

    def gauge(self, key: str) -> int:
        return sum(int(s[key]) for s in self.by_worker.values())
