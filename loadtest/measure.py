"""Measurements: HdrHistograms and counters recorded by workers, merged by the runner.

A worker records into *interval* histograms and hands them over (encoded, compact) once a
second; the runner adds each interval into the run's totals and into that second's row of
the time series, so per-second percentiles and whole-run percentiles come from the same
samples. Every duration is recorded in microseconds and reported in milliseconds.
"""

from __future__ import annotations

import ctypes
import sys
from collections import Counter
from typing import Any

from hdrh.histogram import HdrHistogram

from loadtest.tally import Tally

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
    "spectator_bytes", "spectator_catchup", "inputs_sampled", "sends_late", "sends_dropped",
)
# Counters kept as Recorder attributes (the hot path adds to them), folded into ``counts`` when taken.
HOT_COUNTERS = ("msgs_in", "bytes_in", "msgs_out", "bytes_out", "deltas", "keyframes", "inputs_sent",
                "inputs_sampled", "sends_late", "sends_dropped")


def new_histogram() -> HdrHistogram:
    return HdrHistogram(1, MAX_US, SIGNIFICANT_DIGITS)


def clear(h: HdrHistogram) -> None:
    """``HdrHistogram.reset``, with the counts zeroed by one ``memset`` (reset loops over 23,552 of
    them in Python: 4 ms per histogram per second per worker; a new histogram each time churns memory)."""
    ctypes.memset(ctypes.addressof(h.counts), 0, ctypes.sizeof(h.counts))
    h.total_count = 0
    h.min_value = sys.maxsize
    h.max_value = 0
    h.start_time_stamp_msec = sys.maxsize
    h.end_time_stamp_msec = 0


class Recorder:
    """One per worker process: every simulated player of the worker records here."""

    def __init__(self) -> None:
        self.hist: dict[str, HdrHistogram] = {name: new_histogram() for name in (*TIMINGS, *RATES)}
        # The per-tick timings are tallied (cheap) and folded into their histograms when taken.
        self.latency = Tally(MAX_US)
        self.input_rtt = Tally(MAX_US)
        self.tick_jitter = Tally(MAX_US)
        self._tallies = {"latency": self.latency, "input_rtt": self.input_rtt, "tick_jitter": self.tick_jitter}
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
        self.deltas = 0
        self.keyframes = 0
        self.inputs_sent = 0
        self.inputs_sampled = 0  # inputs sent by players that keep the replica (their round trips are measured)
        self.sends_late = 0  # inputs sent more than half a tick after their slot (the worker was late)
        self.sends_dropped = 0  # inputs not sent at all: the worker missed a whole tick slot

    def time_us(self, name: str, value_us: float) -> None:
        self.hist[name].record_value(min(MAX_US, max(0, int(value_us))))

    def error(self, cause: str) -> None:
        self.errors[cause] += 1

    def disconnect(self, cause: str) -> None:
        self.disconnects[cause] += 1

    def take(self) -> dict[str, Any]:
        """Everything since the last take: encoded interval histograms plus cumulative counters."""
        hist: dict[str, bytes] = {}
        for name, tally in self._tallies.items():
            tally.flush_into(self.hist[name])
        for name, h in self.hist.items():
            if h.get_total_count():
                hist[name] = h.encode()
                clear(h)
        counts = dict(self.counts)
        counts.update({name: getattr(self, name) for name in HOT_COUNTERS})
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
        self.lag_by_worker: dict[int, HdrHistogram] = {}  # each worker's own event-loop lag

    def add(self, worker: int, snap: dict[str, Any]) -> dict[str, HdrHistogram]:
        """Fold one worker snapshot in; returns that snapshot's interval histograms, decoded."""
        decoded: dict[str, HdrHistogram] = {}
        for name, blob in snap["hist"].items():
            h = HdrHistogram.decode(blob)
            self.total[name].add(h)
            decoded[name] = h
            if name == "tester_lag":
                self.lag_by_worker.setdefault(worker, new_histogram()).add(h)
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
