"""Spectator relay settings, read once from ``ELYSIUM_*`` variables."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from elysium.chat import ChatSettings
from elysium.config import ConfigError, between, cors_setting, positive, redis_url, setting


def parse_mode_delays(items: tuple[str, ...]) -> dict[str, float]:
    """``("ranked=30", "duel=10")`` -> ``{"ranked": 30.0, "duel": 10.0}``; raises ValueError."""
    out: dict[str, float] = {}
    for item in items:
        mode, sep, raw = item.partition("=")
        mode = mode.strip()
        if not sep or not mode:
            raise ValueError(f"{item!r} is not MODE=SECONDS")
        try:
            seconds = float(raw)
        except ValueError:
            raise ValueError(f"{item!r}: {raw!r} is not a number of seconds") from None
        if not 0 <= seconds <= 3600:
            raise ValueError(f"{item!r}: seconds must be between 0 and 3600")
        out[mode] = seconds
    return out


@dataclass(frozen=True)
class SpectatorSettings(ChatSettings):
    host: str = setting("ELYSIUM_SPECTATOR_HOST", "127.0.0.1", "Address the relay listens on")
    port: int = setting("ELYSIUM_SPECTATOR_PORT", 7370, "Port for watch websockets, /v1/matches and probes",
                        check=between(0, 65535))
    public_url: str = setting("ELYSIUM_SPECTATOR_PUBLIC_URL", "",
                              "Base websocket URL watchers use (default ws://HOST:PORT)")
    relay_id: str = setting("ELYSIUM_SPECTATOR_ID", "", "Unique id of this relay (default: host name, port and pid)")
    workers: int = setting("ELYSIUM_SPECTATOR_WORKERS", 1,
                           "Relay processes sharing the port (SO_REUSEPORT), one per core to use", check=between(1, 64))
    redis_url: str = setting("ELYSIUM_REDIS_URL", "", "Redis holding the match feeds", secret=True,
                         check=redis_url)
    max_delay_s: float = setting("ELYSIUM_SPECTATOR_MAX_DELAY_S", 300.0, "Longest delay a watcher may ask for",
                                 unit="s", check=between(0, 3600))
    mode_min_delays: tuple[str, ...] = setting(
        "ELYSIUM_SPECTATOR_MODE_MIN_DELAYS", (),
        "Minimum delay per competitive mode, as MODE=SECONDS,... (watchers of these modes never see fresher state)")
    bundle_s: float = setting("ELYSIUM_SPECTATOR_BUNDLE_S", 0.1,
                              "Delayed watchers get the ticks falling due within this window in one message, "
                              "each at most this much before their delay and never before the mode's minimum "
                              "(0: one message per tick)", unit="s", check=between(0, 1))
    skip_bytes: int = setting("ELYSIUM_SPECTATOR_SKIP_BYTES", 64 * 1024,
                              "Unsent bytes past which a watcher skips to the next keyframe", unit="bytes",
                              check=positive)
    close_bytes: int = setting("ELYSIUM_SPECTATOR_CLOSE_BYTES", 1024 * 1024,
                               "Unsent bytes past which a watcher is disconnected", unit="bytes", check=positive)
    slow_close_s: float = setting("ELYSIUM_SPECTATOR_SLOW_CLOSE_S", 10.0,
                                  "A watcher still over the skip threshold this long after it began skipping is "
                                  "disconnected", unit="s", check=positive)
    max_message_bytes: int = setting("ELYSIUM_SPECTATOR_MAX_MESSAGE_BYTES", 512,
                                     "Largest websocket message a watcher may send", unit="bytes",
                                     check=between(64, 65536))
    max_messages_per_s: int = setting("ELYSIUM_SPECTATOR_MAX_MESSAGES_PER_S", 10,
                                      "Messages a watcher may send per second", unit="1/s", check=between(1, 1000))
    abuse_limit: int = setting("ELYSIUM_SPECTATOR_ABUSE_LIMIT", 5,
                               "Protocol errors (decaying 1/s) after which a watcher is closed", check=positive)
    max_watchers: int = setting("ELYSIUM_SPECTATOR_MAX_WATCHERS", 50_000, "Watchers one process serves at most",
                                check=positive)
    max_replays: int = setting("ELYSIUM_SPECTATOR_MAX_REPLAYS", 1000,
                               "Replay watchers (each with its own feed cursor) one process serves at most",
                               check=positive)
    buffer_max_entries: int = setting("ELYSIUM_SPECTATOR_BUFFER_MAX_ENTRIES", 50_000,
                                      "Feed entries one match keeps in memory at most", check=positive)
    feed_stall_s: float = setting("ELYSIUM_SPECTATOR_FEED_STALL_S", 120.0,
                                  "A live feed silent (or Redis unreachable) this long is ended for its watchers",
                                  unit="s", check=positive)
    handshake_timeout_s: float = setting("ELYSIUM_SPECTATOR_HANDSHAKE_TIMEOUT_S", 10.0,
                                         "Time a new connection has to finish its HTTP request", unit="s",
                                         check=positive)
    drain_s: float = setting("ELYSIUM_SPECTATOR_DRAIN_S", 2.0,
                             "On SIGTERM, how long to wait for watchers to receive the shutdown notice",
                             unit="s", check=between(0, 60))
    viewers_every_s: float = setting("ELYSIUM_SPECTATOR_VIEWERS_EVERY_S", 2.0,
                                     "How often this relay publishes its viewer counts", unit="s", check=positive)
    player_public_key: str = setting("ELYSIUM_PLAYER_PUBLIC_KEY", "",
                                     "PEM of the key that verifies player tokens: on the social socket /v1/social "
                                     "and a watcher's ?token= (to be shown watching to their friends); unset, with "
                                     "its file unset too: the relay carries no chat and every watcher is anonymous")
    player_public_key_file: str = setting("ELYSIUM_PLAYER_PUBLIC_KEY_FILE", "", "File holding that PEM instead")
    presence_ttl_s: float = setting("ELYSIUM_PRESENCE_TTL_S", 60.0,
                                    "Expiry of a signed-in watcher's watching presence; set again each third of "
                                    "it, so a dead relay's watchers show offline within it", unit="s",
                                    check=positive)
    social_max_message_bytes: int = setting("ELYSIUM_SOCIAL_MAX_MESSAGE_BYTES", 4096,
                                            "Largest websocket message a social socket may send", unit="bytes",
                                            check=between(512, 65536))
    social_max_messages_per_s: int = setting("ELYSIUM_SOCIAL_MAX_MESSAGES_PER_S", 20,
                                             "Messages a social socket may send per second (chat has its own, "
                                             "per-player limit besides)", unit="1/s", check=between(1, 1000))
    max_social: int = setting("ELYSIUM_SOCIAL_MAX_SOCKETS", 50_000, "Social sockets one process serves at most",
                              check=positive)
    log_level: str = setting("ELYSIUM_LOG_LEVEL", "info", "Log level")
    cors_origins: tuple[str, ...] = cors_setting()

    def validate(self) -> None:
        if not self.redis_url:
            raise ConfigError("ELYSIUM_REDIS_URL", "is not set; point it at Redis (redis://host:port/db)")
        if self.presence_ttl_s < 3 * self.viewers_every_s:
            raise ConfigError("ELYSIUM_PRESENCE_TTL_S", "must be at least three times ELYSIUM_SPECTATOR_VIEWERS_EVERY_S "
                                                        "(it is renewed when the viewer counts are published)")
        if self.close_bytes <= self.skip_bytes:
            raise ConfigError("ELYSIUM_SPECTATOR_CLOSE_BYTES", "must be larger than ELYSIUM_SPECTATOR_SKIP_BYTES")
        try:
            delays = parse_mode_delays(self.mode_min_delays)
        except ValueError as exc:
            raise ConfigError("ELYSIUM_SPECTATOR_MODE_MIN_DELAYS", str(exc)) from None
        for mode, seconds in delays.items():
            if seconds > self.max_delay_s:
                raise ConfigError("ELYSIUM_SPECTATOR_MODE_MIN_DELAYS",
                                  f"{mode}={seconds:g} is above ELYSIUM_SPECTATOR_MAX_DELAY_S ({self.max_delay_s:g})")

    def min_delay_s(self, mode: str | None) -> float:
        """The enforced minimum delay for ``mode``; an unknown mode gets the strictest one."""
        delays = parse_mode_delays(self.mode_min_delays)
        if mode is None:
            return max(delays.values(), default=0.0)
        return delays.get(mode, 0.0)

    @property
    def chat_enabled(self) -> bool:
        return bool(self.player_public_key or self.player_public_key_file)

    @property
    def resolved_id(self) -> str:
        return self.relay_id or f"{socket.gethostname()}-{self.port}-{os.getpid()}"

    def resolved_public_url(self, port: int) -> str:
        return (self.public_url or f"ws://{self.host}:{port}").rstrip("/")
