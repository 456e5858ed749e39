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
