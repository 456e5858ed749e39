"""Commerce's Prometheus metrics (one registry per app)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from elysium.http import RequestMetrics
from elysium.metrics import Metrics


class RewardCounts(Protocol):
    """What the rewards consumer counts (:class:`commerce.rewards.RewardsConsumer`)."""

    processed: int
    granted: int
    duplicates: int
    rejected: int


class CommerceMetrics:
    """``retries`` reads the store's transaction retries, ``rewards`` the rewards consumer (None when
    it is off or not started yet), ``leases_swept`` the crashed replicas' leases swept; all are read on
    every scrape."""

    def __init__(self, retries: Callable[[], int] = lambda: 0,
                 rewards: Callable[[], RewardCounts | None] = lambda: None,
                 leases_swept: Callable[[], int] = lambda: 0) -> None:
        self.m = m = Metrics("commerce")
        self.http = RequestMetrics(m)

        def reward(read: Callable[[RewardCounts], int]) -> Callable[[], float]:
            return lambda: 0 if (counts := rewards()) is None else read(counts)

        m.counter_read("transaction_retries", "Transactions retried after a write conflict", retries)
        m.counter_read("session_leases_swept",
                       "Expired leases of crashed replicas whose sessions this replica killed", leases_swept)
        m.counter_read("rewards_results_processed", "Match results acknowledged", reward(lambda c: c.processed))
        m.counter_read("rewards_granted", "Player rewards granted", reward(lambda c: c.granted))
        m.counter_read("rewards_duplicates", "Player rewards found already granted", reward(lambda c: c.duplicates))
        m.counter_read("rewards_rejected", "Results entries that could not be read", reward(lambda c: c.rejected))

    def render(self) -> bytes:
        return self.m.render()
