"""The game server's Prometheus metrics."""

from __future__ import annotations

from elysium.metrics import Metrics


class GameMetrics:
    def __init__(self) -> None:
        m = self.base = Metrics("gameserver")
        self.players = m.gauge("players", "Players seated in rooms (connected or within their grace period)")
        self.connected = m.gauge("players_connected", "Players with an open connection")
        self.rooms = m.gauge("rooms", "Rooms by lifecycle state", ("state",))
        self.connections = m.counter("connections", "Websocket connections accepted")
        self.tick_duration = m.histogram("tick_duration_seconds", "Time to compute and send one room tick")
        self.tick_lateness = m.histogram("tick_lateness_seconds", "How late a room tick started after its deadline")
        self.ticks = m.counter("ticks", "Room ticks run")
        self.ticks_skipped = m.counter("ticks_skipped", "Simulation steps skipped because the process fell too far behind")
        self.bytes_out = m.counter("sent_bytes", "Bytes of tick traffic written to players")
        self.frames_out = m.counter("frames_out", "Tick frames written to players")
        self.view_deltas = m.counter("view_deltas", "Per-seat view deltas encoded (one per distinct view and tick, "
                                                    "however many players share it)")
        self.frames_dropped = m.counter("frames_dropped", "Tick frames not sent to a client whose send buffer was full")
        self.slow_closed = m.counter("slow_clients_closed", "Clients closed for not reading")
        self.rejected_inputs = m.counter("rejected_inputs", "Client messages or inputs rejected, by reason", ("reason",))
        self.inputs = m.counter("inputs", "Inputs accepted")
        self.joins = m.counter("joins", "Join attempts by outcome", ("outcome",))
        self.removed = m.counter("players_removed", "Players taken out of their match by the server, by reason "
                                                   "(banned: the account was banned)", ("reason",))
        self.results = m.counter("results", "Match results written")
        self.feed_pending = m.gauge("feed_pending", "Feed entries waiting for Redis")
        self.results_held = m.gauge("results_held", "Match results Redis has not durably accepted yet")
        self.draining = m.gauge("draining", "1 while draining after SIGTERM")

    def rejected(self, reason: str, count: int = 1) -> None:
        self.rejected_inputs.labels(reason).inc(count)

    def render(self) -> bytes:
        return self.base.render()
