"""A Tally folded into an HdrHistogram gives exactly the histogram of recording each value."""

from __future__ import annotations

import random

from loadtest.measure import MAX_US, new_histogram
from loadtest.tally import Tally


def test_a_tally_gives_the_same_histogram_as_recording_every_value() -> None:
    rng = random.Random(7)
    values = [int(rng.lognormvariate(8, 2.5)) for _ in range(20_000)] + [0, 1, 2047, 2048, 2049, 4095, 4096,
                                                                         MAX_US, MAX_US + 5, -3]
    direct, tallied, tally = new_histogram(), new_histogram(), Tally(MAX_US)
    for v in values:
        direct.record_value(min(MAX_US, max(0, v)))
        tally.record(v)
    assert len(tally) == len(values)
    tally.flush_into(tallied)
    assert tally.counts == {}
    assert tallied.get_total_count() == direct.get_total_count() == len(values)
    for q in (0, 1, 10, 50, 90, 99, 99.9, 100):
        assert tallied.get_value_at_percentile(q) == direct.get_value_at_percentile(q)
    assert tallied.get_min_value() == direct.get_min_value() and tallied.get_max_value() == direct.get_max_value()
    assert tallied.get_mean_value() == direct.get_mean_value()
    assert tallied.encode() == direct.encode()


def test_clearing_a_histogram_is_what_reset_does() -> None:
    from loadtest.measure import clear

    a, b = new_histogram(), new_histogram()
    for h in (a, b):
        for v in (1, 500, 70_000, 3_000_000):
            h.record_value(v)
    a.reset()
    clear(b)
    assert b.get_total_count() == 0 and b.encode() == a.encode() and b.get_max_value() == a.get_max_value()
    assert all(c == 0 for c in b.counts)
    b.record_value(42)
    assert b.get_total_count() == 1 and b.get_value_at_percentile(50) == 42
