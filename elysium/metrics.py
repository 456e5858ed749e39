"""Prometheus helpers: one registry per service instance, no module-level globals.

Every registry also carries the process collector (``process_cpu_seconds_total``,
``process_resident_memory_bytes``, ``process_open_fds``, ``process_start_time_seconds``, ...),
so every service reports its own CPU and memory under the standard names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "LATENCY_BUCKETS_S"]

# Tick-scale buckets: 0.1 ms .. 1 s.
LATENCY_BUCKETS_S = (
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0,
)


class _ReadCounter(Collector):
    """A counter whose value another object keeps, read when scraped."""

    def __init__(self, name: str, doc: str, read: Callable[[], float]) -> None:
        self.name, self.doc, self.read = name, doc, read

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.doc)
        family.add_metric([], self.read())
        yield family

    def describe(self) -> Iterator[Metric]:
        yield CounterMetricFamily(self.name, self.doc)


class Metrics:
    """Owns a :class:`CollectorRegistry` and builds metrics prefixed ``elysium_<service>_``.

    Counter names are given without ``_total`` (the client library adds it to what is exported).
    """

    def __init__(self, service: str) -> None:
        self.prefix = f"elysium_{service}_"
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)

    def counter(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
        return Counter(self.prefix + name, doc, labels, registry=self.registry)

    def counter_read(self, name: str, doc: str, read: Callable[[], float]) -> None:
        """A counter kept elsewhere (a plain int another object increments), exported as ``<name>_total``.

        ``read`` is called on every scrape and must only ever grow (within one process).
        """
        self.registry.register(_ReadCounter(self.prefix + name, doc, read))

    def gauge(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(self.prefix + name, doc, labels, registry=self.registry)

    def histogram(
        self, name: str, doc: str, buckets: tuple[float, ...] = LATENCY_BUCKETS_S, labels: tuple[str, ...] = ()
    ) -> Histogram:
        return Histogram(self.prefix + name, doc, labels, buckets=buckets, registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
