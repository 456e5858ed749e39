"""The matchmaker's Prometheus metrics."""

from __future__ import annotations

from typing import Any

from elysium.http import RequestMetrics
from elysium.metrics import Metrics

PASS_BUCKETS_S = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
WAIT_BUCKETS_S = (1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0)


class MatchmakerMetrics:
    def __init__(self) -> None:
        m = self.m = Metrics("matchmaker")
        self.http = RequestMetrics(m)
        self.tickets = m.counter("tickets_total", "Tickets by outcome of the create call", ("mode", "outcome"))
        self.cancelled = m.counter("tickets_cancelled_total", "Tickets cancelled by players")
        self.matches = m.counter("matches_total", "Matches formed by this replica")
        self.matched_players = m.counter("matched_players_total", "Players placed in matches by this replica")
        self.lost_races = m.counter("lost_races_total", "Proposals dropped because their tickets were taken first")
        self.no_server = m.counter("no_server_total", "Proposals dropped for want of a game server with room")
        self.expired = m.counter("tickets_expired_total", "Tickets this replica expired")
        self.passes = m.histogram("pass_seconds", "Duration of one matching pass", PASS_BUCKETS_S)
        self.wait = m.histogram("match_wait_seconds", "For each match this replica formed from the queue: how long "
                                "its longest-waiting ticket waited, from creation to the match", WAIT_BUCKETS_S,
                                ("mode",))
        self.ratings = m.counter("ratings_applied_total", "Matches whose results updated ratings")
        self.leaderboard_rebuilds = m.counter("leaderboard_rebuilds_total",
                                              "Leaderboard indexes this replica rebuilt from MongoDB")
        self.games = m.counter("custom_games_total", "Custom games by event: hosted, started, no_server (a start "
                               "that found no server with room)", ("mode", "event"))
        self.sse = m.gauge("event_streams", "Open ticket event streams")
        self.waiting = m.gauge("tickets_waiting", "Tickets waiting in each mode's queue after the last matching pass "
                               "(the same queues on every replica)", ("mode",))

    def observe_pass(self, report: Any) -> None:
        self.matches.inc(report.matches)
        self.matched_players.inc(report.players)
        self.lost_races.inc(report.lost_races)
        self.no_server.inc(report.no_server)
        self.expired.inc(report.expired)
        for mode, n in report.waiting.items():
            self.waiting.labels(mode).set(n)
        for mode, waited_s in report.waits:
            self.wait.labels(mode).observe(waited_s)

    def render(self) -> bytes:
        return self.m.render()
