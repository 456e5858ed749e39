"""The butler's Prometheus metrics (``/metrics``), besides the requests the kernel's edge counts."""

from __future__ import annotations

from elysium.http import RequestMetrics
from elysium.metrics import Metrics

TURN_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class ButlerMetrics:
    def __init__(self) -> None:
        self.metrics = Metrics("butler")
        self.http = RequestMetrics(self.metrics)
        self.tokens = self.metrics.counter("tokens", "Model tokens used, by kind (prompt, completion)", ("kind",))
        self.tool_calls = self.metrics.counter("tool_calls", "Tool calls by tool and outcome (ok, error, proposed)",
                                               ("tool", "outcome"))
        self.confirmations = self.metrics.counter("confirmations", "Confirmations by outcome (ok, or the refusal's "
                                                  "code)", ("outcome",))
        self.turns = self.metrics.counter("turns", "Chat turns by engine and how they ended (done, error, "
                                          "disconnected)", ("engine", "end"))
        self.provider_errors = self.metrics.counter("provider_errors", "Turns ended by a model provider error, by "
                                                    "code", ("code",))
        self.first_event = self.metrics.histogram("first_event_seconds", "From a turn's start to its first event "
                                                  "(the provider's latency to first token, for the model engine)",
                                                  TURN_BUCKETS_S, ("engine",))
        self.turn_seconds = self.metrics.histogram("turn_seconds", "Whole turns, start to last event",
                                                   TURN_BUCKETS_S, ("engine",))
        self.streams = self.metrics.gauge("streams", "Chat streams in flight")
        self.provider_calls = self.metrics.histogram(
            "provider_call_seconds", "Each call to the model provider (every attempt, retries included), by outcome: "
            "ok, rate-limited, server-error, timeout, connection-error, refused, bad-response", TURN_BUCKETS_S,
            ("outcome",))

    def tool(self, tool: str, outcome: str) -> None:
        """An engine's ``observe`` callback."""
        self.tool_calls.labels(tool, outcome).inc()

    def provider(self, outcome: str, seconds: float) -> None:
        """The provider's ``observe`` callback."""
        self.provider_calls.labels(outcome).observe(seconds)

    def render(self) -> bytes:
        return self.metrics.render()
