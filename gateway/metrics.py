"""The gateway's Prometheus metrics (``/metrics``), besides the requests the kernel's edge counts."""

from __future__ import annotations

from elysium.http import RequestMetrics
from elysium.metrics import Metrics


class GatewayMetrics:
    def __init__(self) -> None:
        self.metrics = Metrics("gateway")
        self.http = RequestMetrics(self.metrics)
        self.upstream = self.metrics.counter("upstream_responses", "Answers passed on from a service, by service and "
                                             "status class (2xx, 3xx, 4xx, 5xx)", ("service", "status"))
        self.upstream_errors = self.metrics.counter("upstream_errors", "Requests the gateway answered itself because "
                                                    "a service could not be reached or was too slow, by service and "
                                                    "code (upstream-unavailable, upstream-timeout)",
                                                    ("service", "code"))
        self.websockets = self.metrics.gauge("websockets", "Websockets passed through now, by service", ("service",))

    def render(self) -> bytes:
        return self.metrics.render()
