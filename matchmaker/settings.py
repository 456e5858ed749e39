"""Matchmaker settings, read once from ``ELYSIUM_*`` variables."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from elysium.config import ConfigError, between, cors_setting, one_of, positive, redis_url, setting


@dataclass(frozen=True)
class MatchmakerSettings:
    host: str = setting("ELYSIUM_MATCHMAKER_HOST", "127.0.0.1", "Address the matchmaker listens on")
    port: int = setting("ELYSIUM_MATCHMAKER_PORT", 7360, "Port of the matchmaker's HTTP API", check=between(0, 65535))
    workers: int = setting("ELYSIUM_MATCHMAKER_WORKERS", 1,
                           "Replica processes sharing the port (SO_REUSEPORT), each with its own matching loop",
                           check=between(1, 64))
    instance_id: str = setting("ELYSIUM_MATCHMAKER_ID", "",
                               "Name of this replica in the results consumer group (default: host name and pid)")
    redis_url: str = setting("ELYSIUM_REDIS_URL", "", "Redis for tickets, parties, seat claims and the registry",
                             secret=True, check=redis_url)
    mongo_url: str = setting("ELYSIUM_MONGO_URL", "", "MongoDB holding the player ratings", secret=True)
    mongo_db: str = setting("ELYSIUM_MATCHMAKER_DB", "elysium", "MongoDB database of the ratings")
    player_public_key: str = setting("ELYSIUM_PLAYER_PUBLIC_KEY", "", "PEM of the key that verifies player tokens")
    player_public_key_file: str = setting("ELYSIUM_PLAYER_PUBLIC_KEY_FILE", "", "File holding that PEM instead")
    join_private_key: str = setting("ELYSIUM_JOIN_PRIVATE_KEY", "", "PEM of the key that signs join tokens",
                                    secret=True)
    join_private_key_file: str = setting("ELYSIUM_JOIN_PRIVATE_KEY_FILE", "", "File holding that PEM instead")
    modes_file: str = setting("ELYSIUM_MATCHMAKER_MODES_FILE", "",
                              "JSON list of queue modes (default: arena, duel, team-arena, koth, cards; see docs/matchmaker.md)")
    match_interval_s: float = setting("ELYSIUM_MATCHMAKER_INTERVAL_S", 0.25, "Pause between matching passes",
                                      unit="s", check=between(0.01, 60))
    ticket_ttl_s: float = setting("ELYSIUM_TICKET_TTL_S", 300.0, "How long a ticket may wait before it expires",
                                  unit="s", check=between(1, 86400))
    ticket_retention_s: float = setting("ELYSIUM_TICKET_RETENTION_S", 120.0,
                                        "How long a matched, cancelled or expired ticket stays readable",
                                        unit="s", check=between(0.1, 86400))
    forming_timeout_s: float = setting("ELYSIUM_MATCH_FORMING_TIMEOUT_S", 10.0,
                                       "After this, tickets a crashed replica was placing are queued again",
                                       unit="s", check=between(0.1, 600))
    party_ttl_s: float = setting("ELYSIUM_PARTY_TTL_S", 1800.0, "A party is disbanded this long after it was created",
                                 unit="s", check=between(1, 86400))
    party_max_size: int = setting("ELYSIUM_PARTY_MAX_SIZE", 8, "Most players in one party", check=between(2, 50))
    game_idle_s: float = setting("ELYSIUM_GAME_IDLE_S", 1800.0,
                                 "A custom game not started expires this long after its last change (host, join, "
                                 "leave, kick, lock)", unit="s", check=between(10, 86400))
    join_token_ttl_s: float = setting("ELYSIUM_JOIN_TOKEN_TTL_S", 60.0, "Lifetime of a join token", unit="s",
                                      check=between(5, 60))
    seat_hold_s: float = setting("ELYSIUM_SEAT_HOLD_S", 90.0,
                                 "Seats claimed on a game server are given back after this if the room never appears",
                                 unit="s", check=between(1, 3600))
    server_fresh_s: float = setting("ELYSIUM_SERVER_FRESH_S", 6.0,
                                    "A game server whose last heartbeat is older is not used", unit="s",
                                    check=between(0.5, 600))
    allocation: str = setting("ELYSIUM_MATCHMAKER_ALLOCATION", "pack",
                              "pack: fill the fullest server that fits; spread: use the emptiest",
                              check=one_of("pack", "spread"))
    stats_window_s: float = setting("ELYSIUM_MATCHMAKER_STATS_WINDOW_S", 600.0,
                                    "Recent waits behind /v1/queues percentiles are kept this long", unit="s",
                                    check=positive)
    max_tickets_per_pass: int = setting("ELYSIUM_MATCHMAKER_MAX_TICKETS_PER_PASS", 50_000,
                                        "Tickets of one mode one matching pass looks at", check=between(10, 10**6))
    log_level: str = setting("ELYSIUM_LOG_LEVEL", "info", "Log level")
    cors_origins: tuple[str, ...] = cors_setting()

    def validate(self) -> None:
        if not self.redis_url:
            raise ConfigError("ELYSIUM_REDIS_URL", "is not set; point it at Redis (redis://host:port/db)")
        if not self.mongo_url:
            raise ConfigError("ELYSIUM_MONGO_URL", "is not set; point it at MongoDB (mongodb://host:port)")
        if not (self.player_public_key or self.player_public_key_file):
            raise ConfigError("ELYSIUM_PLAYER_PUBLIC_KEY_FILE",
                              "is not set (nor ELYSIUM_PLAYER_PUBLIC_KEY); players cannot be authenticated")
        if not (self.join_private_key or self.join_private_key_file):
            raise ConfigError("ELYSIUM_JOIN_PRIVATE_KEY_FILE",
                              "is not set (nor ELYSIUM_JOIN_PRIVATE_KEY); join tokens cannot be signed")

    @property
    def resolved_id(self) -> str:
        return self.instance_id or f"{socket.gethostname()}-{os.getpid()}"
