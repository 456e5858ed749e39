"""Matchmaker settings, read once from ``ELYSIUM_*`` variables."""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from typing import Any

from elysium.config import ConfigError, between, cors_setting, one_of, positive, redis_url, setting

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
SEASON_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")


def season_id(value: Any) -> str | None:
    return None if isinstance(value, str) and SEASON_RE.fullmatch(value) else "must be 1-32 of a-z, 0-9 and '-'"


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
    mongo_url: str = setting("ELYSIUM_MONGO_URL", "", "MongoDB holding the player ratings and match history",
                             secret=True)
    mongo_db: str = setting("ELYSIUM_MATCHMAKER_DB", "elysium", "MongoDB database of the ratings and match history")
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
    season: str = setting("ELYSIUM_MATCHMAKER_SEASON", "s1",
                          "Current leaderboard season: finished matches count towards it (1-32 of a-z, 0-9, '-'; "
                          "see docs/matchmaker.md)", check=season_id)
    spectator_public_url: str = setting("ELYSIUM_SPECTATOR_PUBLIC_URL", "",
                                        "Base websocket URL watchers use (relay default ws://HOST:PORT); the "
                                        "matchmaker links replays under it in match history (unset there: no links)")
    feed_retention_s: int = setting("ELYSIUM_FEED_RETENTION_S", 3600,
                                    "How long a match feed outlives its match (the game servers' value): replay "
                                    "links are reported expired after it", unit="s", check=between(1, 30 * 86400))
    service_public_key_file: str = setting("ELYSIUM_SERVICE_PUBLIC_KEY_FILE", "",
                                           "Public key (PEM file) verifying service tokens: for commerce's /v1/admin "
                                           "(unset: it answers 403), and for services reading the matchmaker's "
                                           "history, ratings and leaderboards (unset: player tokens only)")
    leaderboard_rebuild_lock_s: float = setting("ELYSIUM_LEADERBOARD_REBUILD_LOCK_S", 60.0,
                                                "A leaderboard rebuild holds its lock this long past its last "
                                                "batch; a replica that died mid-way is taken over after it",
                                                unit="s", check=between(1, 3600))
    allocator: str = setting("ELYSIUM_MATCHMAKER_ALLOCATOR", "registry",
                             "registry: place matches on the game servers of the Redis registry; agones: through "
                             "a GameServerAllocation (docs/agones.md)", check=one_of("registry", "agones"))
    agones_api_url: str = setting("ELYSIUM_MATCHMAKER_AGONES_API_URL", "https://kubernetes.default.svc",
                                  "Kubernetes API server the allocations are created on (agones mode)")
    agones_token_file: str = setting("ELYSIUM_MATCHMAKER_AGONES_TOKEN_FILE", SA_DIR + "/token",
                                     "Service account token (read on each allocation)")
    agones_ca_file: str = setting("ELYSIUM_MATCHMAKER_AGONES_CA_FILE", SA_DIR + "/ca.crt",
                                  "CA bundle verifying the API server (empty: the system's)")
    agones_namespace: str = setting("ELYSIUM_MATCHMAKER_AGONES_NAMESPACE", "",
                                    "Namespace of the fleet (default: the pod's, beside the token)")
    agones_fleet: str = setting("ELYSIUM_MATCHMAKER_AGONES_FLEET", "gameserver",
                                "Fleet to allocate from; {region} is replaced by the match's region")
    agones_seats_cap: int = setting("ELYSIUM_MATCHMAKER_AGONES_SEATS_CAP", 100,
                                    "Highest seats-free label value (the game servers' ELYSIUM_MAX_SEATS_PER_ROOM)",
                                    check=between(1, 1000))
    agones_url: str = setting("ELYSIUM_MATCHMAKER_AGONES_URL", "ws://{address}:{port}/v1/play",
                              "Players' URL of an allocated game server, from its address and port")
    agones_port_name: str = setting("ELYSIUM_MATCHMAKER_AGONES_PORT_NAME", "play",
                                    "Name of the GameServer port players connect to")
    agones_timeout_s: float = setting("ELYSIUM_MATCHMAKER_AGONES_TIMEOUT_S", 5.0,
                                      "Longest wait for one allocation", unit="s", check=between(0.1, 60))
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
        if self.allocator == "agones":
            if not self.agones_api_url.startswith(("http://", "https://")):
                raise ConfigError("ELYSIUM_MATCHMAKER_AGONES_API_URL", "must be an http:// or https:// URL")
            if "{address}" not in self.agones_url or "{port}" not in self.agones_url:
                raise ConfigError("ELYSIUM_MATCHMAKER_AGONES_URL", "must hold {address} and {port}")
            if not os.path.isfile(self.agones_token_file):
                raise ConfigError("ELYSIUM_MATCHMAKER_AGONES_TOKEN_FILE",
                                  f"{self.agones_token_file} does not exist (no service account token)")

    @property
    def resolved_id(self) -> str:
        return self.instance_id or f"{socket.gethostname()}-{os.getpid()}"
