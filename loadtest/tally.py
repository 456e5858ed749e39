"""Cheap recording for the hot path: values counted by HdrHistogram bucket, folded in once a second.

``HdrHistogram.record_value`` is pure Python and costs about a microsecond; a simulated
player records two or three values per tick. A :class:`Tally` rounds each value down to the
lowest value of its bucket (the histogram cannot tell the two apart: every figure it
reports, min and max included, is computed from bucket bounds) and counts it in a dict;
:meth:`Tally.flush_into` records each distinct bucket once with its count. The histogram
comes out identical, byte for byte, to recording every value (``tests/loadtest/test_tally.py``).
"""

from __future__ import annotations

from hdrh.histogram import HdrHistogram

# The histograms are HdrHistogram(1, MAX_US, 3): 2048 sub-buckets, so values below 2048 are
# exact and a value of bit length b >= 12 shares its bucket with all values that agree on its
# top 11 bits.
SUB_BUCKET_BITS = 11


class Tally:
    __slots__ = ("counts", "max_value")

    def __init__(self, max_value: int) -> None:
        self.counts: dict[int, int] = {}
        self.max_value = max_value

    def record(self, value: int) -> None:
        if value < 0:
            value = 0
        elif value > self.max_value:
            value = self.max_value
        shift = value.bit_length() - SUB_BUCKET_BITS
        if shift > 0:
            value = value >> shift << shift
        counts = self.counts
        counts[value] = counts.get(value, 0) + 1

    def __len__(self) -> int:
        return sum(self.counts.values())

    def flush_into(self, h: HdrHistogram) -> None:
        for value, n in self.counts.items():
            h.record_value(value, n)
        self.counts.clear()
