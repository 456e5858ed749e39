"""The relay's Prometheus metrics."""

from __future__ import annotations

from elysium.metrics import Metrics


class SpectatorMetrics:
    def __init__(self) -> None:
        m = self.base = Metrics("spectator")
        self.watchers = m.gauge("spectators", "Watchers connected, by kind (live or replay)", ("kind",))
        self.replay_slots = m.gauge(
            "replay_slots_used", "Replay slots held (of ELYSIUM_SPECTATOR_MAX_REPLAYS): replays being sought or played")
        self.relays = m.gauge("matches_relayed", "Match feeds this process reads (one reader each)")
        self.watches = m.counter("watch_requests", "Watch requests by outcome", ("outcome",))
        self.bytes_out = m.counter("sent_bytes", "Feed bytes written to watchers")
        self.frames_out = m.counter("frames_out", "Feed messages written to watchers")
        self.frames_skipped = m.counter(
            "frames_skipped", "Feed messages not sent to watchers waiting for a keyframe (slow ones, or after a gap)")
        self.resyncs = m.counter("resyncs", "Times a skipping watcher resumed at a keyframe")
        self.slow_closed = m.counter("slow_closed", "Watchers disconnected for not reading")
        self.feed_errors = m.counter("feed_errors", "Failed feed reads from Redis")
        self.bad_entries = m.counter("bad_entries", "Feed entries that were malformed and skipped")
        self.rejected_messages = m.counter("rejected_messages", "Watcher messages rejected, by reason", ("reason",))
        self.delivery_lag = m.histogram(
            "delivery_lag_seconds", "How late a batch left the relay after its entry became due (entry time + delay)")
        self.fanout = m.histogram("fanout_seconds", "Time to write one batch to every watcher of a channel")
        self.draining = m.gauge("draining", "1 while draining after SIGTERM")
        self.social_sockets = m.gauge("social_sockets", "Social sockets (/v1/social) open")
        self.chat_messages = m.counter("chat_messages", "Chat messages (say and dm) by outcome: ok or the refusal's "
                                       "code", ("outcome",))
        self.chat_delivered = m.counter("chat_delivered", "Chat messages written to social sockets")

    def rejected(self, reason: str) -> None:
        self.rejected_messages.labels(reason).inc()

    def render(self) -> bytes:
        return self.base.render()
