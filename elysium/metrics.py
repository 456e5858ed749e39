"""Prometheus helpers: one registry per service instance, no module-level globals."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "LATENCY_BUCKETS_S"]

# Tick-scale buckets: 0.1 ms .. 1 s.
LATENCY_BUCKETS_S = (
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0,
)


class Metrics:
    """Owns a :class:`CollectorRegistry` and builds metrics prefixed ``elysium_<service>_``."""

    def __init__(self, service: str) -> None:
        self.prefix = f"elysium_{service}_"
        self.registry = CollectorRegistry(auto_describe=True)

    def counter(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
        return Counter(self.prefix + name, doc, labels, registry=self.registry)

    def gauge(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(self.prefix + name, doc, labels, registry=self.registry)

    def histogram(
        self, name: str, doc: str, buckets: tuple[float, ...] = LATENCY_BUCKETS_S, labels: tuple[str, ...] = ()
    ) -> Histogram:
        return Histogram(self.prefix + name, doc, labels, buckets=buckets, registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
