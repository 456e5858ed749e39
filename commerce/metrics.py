"""Commerce's Prometheus metrics (one registry per app)."""

from __future__ import annotations

from elysium.http import RequestMetrics
from elysium.metrics import Metrics


class CommerceMetrics:
    def __init__(self) -> None:
        self.m = Metrics("commerce")
        self.http = RequestMetrics(self.m)
        self.txn_retries = self.m.gauge("transaction_retries", "Transactions retried after a write conflict")
        self.leases_swept = self.m.gauge("session_leases_swept",
                                         "Expired leases of crashed replicas whose sessions this replica killed")
        self.rewards_processed = self.m.gauge("rewards_results_processed", "Match results acknowledged")
        self.rewards_granted = self.m.gauge("rewards_granted", "Player rewards granted")
        self.rewards_duplicates = self.m.gauge("rewards_duplicates", "Player rewards found already granted")
        self.rewards_rejected = self.m.gauge("rewards_rejected", "Results entries that could not be read")

    def render(self) -> bytes:
        return self.m.render()
