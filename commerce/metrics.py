"""Commerce's Prometheus metrics (one registry per app)."""

from __future__ import annotations

from elysium.metrics import Metrics

HTTP_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class CommerceMetrics:
    def __init__(self) -> None:
        self.m = Metrics("commerce")
        self.requests = self.m.counter("http_requests_total", "HTTP requests by route and status",
                                       ("method", "route", "status"))
        self.latency = self.m.histogram("http_request_seconds", "HTTP request latency", HTTP_BUCKETS_S,
                                        ("method", "route"))
        self.txn_retries = self.m.gauge("transaction_retries", "Transactions retried after a write conflict")
        self.rewards_processed = self.m.gauge("rewards_results_processed", "Match results acknowledged")
        self.rewards_granted = self.m.gauge("rewards_granted", "Player rewards granted")
        self.rewards_duplicates = self.m.gauge("rewards_duplicates", "Player rewards found already granted")
        self.rewards_rejected = self.m.gauge("rewards_rejected", "Results entries that could not be read")

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return self.m.render()
