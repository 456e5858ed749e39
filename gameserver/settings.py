"""Game server settings, read once from ``ELYSIUM_*`` variables."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from elysium import tokens
from elysium.chat import ChatSettings
from elysium.config import ConfigError, between, cors_setting, non_negative, one_of, positive, redis_url, setting


@dataclass(frozen=True)
class GameServerSettings(ChatSettings):
    host: str = setting("ELYSIUM_GAMESERVER_HOST", "127.0.0.1", "Address the game server listens on")
    port: int = setting("ELYSIUM_GAMESERVER_PORT", 7350, "Port for websockets and /healthz, /readyz, /metrics",
                        check=between(0, 65535))
    public_url: str = setting("ELYSIUM_GAMESERVER_PUBLIC_URL", "",
                              "Websocket URL players are sent to (default ws://HOST:PORT/v1/play)")
    server_id: str = setting("ELYSIUM_SERVER_ID", "", "Unique id of this server in the registry (default: host name and port)")
    region: str = setting("ELYSIUM_REGION", "local", "Region this server advertises")
    redis_url: str = setting("ELYSIUM_REDIS_URL", "", "Redis for the registry, replay guard, feeds and results", secret=True,
                         check=redis_url)
    join_public_key: str = setting("ELYSIUM_JOIN_PUBLIC_KEY", "", "PEM of the Ed25519 key that verifies join tokens",
                                   secret=False)
    join_public_key_file: str = setting("ELYSIUM_JOIN_PUBLIC_KEY_FILE", "", "File holding that PEM instead")
    service_public_key_file: str = setting("ELYSIUM_SERVICE_PUBLIC_KEY_FILE", "",
                                           "Public key (PEM file) verifying service tokens: for the /v1/admin APIs "
                                           "of commerce, the matchmaker and the game servers (unset: they answer "
                                           "403 admin-disabled), and for services reading the matchmaker's history, "
                                           "ratings and leaderboards (unset: player tokens only)")
    join_issuers: str = setting("ELYSIUM_JOIN_ISSUERS", ",".join(tokens.JOIN_ISSUERS),
                                "Comma-separated issuers (iss) accepted on join tokens")
    modes: str = setting("ELYSIUM_MODES", "",
                         "Comma-separated game modes to host, of those installed (default: every one found)")
    tick_hz: int = setting("ELYSIUM_TICK_HZ", 20, "Default simulation rate of a room", unit="Hz", check=between(1, 60))
    max_rooms: int = setting("ELYSIUM_MAX_ROOMS", 500, "Rooms one process hosts at most", check=positive)
    max_players: int = setting("ELYSIUM_MAX_PLAYERS", 3000, "Seats one process offers in all", check=positive)
    max_seats_per_room: int = setting("ELYSIUM_MAX_SEATS_PER_ROOM", 100, "Largest room", check=between(1, 1000))
    reconnect_grace_s: float = setting("ELYSIUM_RECONNECT_GRACE_S", 20.0, "How long a dropped player's seat is held",
                                       unit="s", check=non_negative)
    join_timeout_s: float = setting("ELYSIUM_JOIN_TIMEOUT_S", 10.0, "Time a new connection has to send join",
                                    unit="s", check=positive)
    drain_timeout_s: float = setting("ELYSIUM_DRAIN_TIMEOUT_S", 300.0,
                                     "On SIGTERM, how long running matches may go on before they are ended",
                                     unit="s", check=non_negative)
    max_message_bytes: int = setting("ELYSIUM_MAX_MESSAGE_BYTES", 4096, "Largest websocket message a client may send",
                                     unit="bytes", check=between(256, 65536))
    max_inputs_per_s: int = setting("ELYSIUM_MAX_INPUTS_PER_S", 60, "Messages and inputs a player may send per second",
                                    unit="1/s", check=between(1, 1000))
    send_buffer_skip_bytes: int = setting("ELYSIUM_SEND_BUFFER_SKIP_BYTES", 256 * 1024,
                                          "Unsent bytes past which a client is skipped for deltas", unit="bytes",
                                          check=positive)
    send_buffer_close_bytes: int = setting("ELYSIUM_SEND_BUFFER_CLOSE_BYTES", 2 * 1024 * 1024,
                                           "Unsent bytes past which a client is disconnected", unit="bytes",
                                           check=positive)
    slow_client_timeout_s: float = setting("ELYSIUM_SLOW_CLIENT_TIMEOUT_S", 10.0,
                                           "How long a client may stay skipped for not reading before it is closed",
                                           unit="s", check=positive)
    socket_send_buffer_bytes: int = setting("ELYSIUM_SOCKET_SEND_BUFFER_BYTES", 0,
                                            "Kernel send buffer per player socket (0: the OS default)",
                                            unit="bytes", check=non_negative)
    abuse_limit: int = setting("ELYSIUM_ABUSE_LIMIT", 10,
                               "Protocol errors (decaying 1/s) after which a connection is closed", check=positive)
    heartbeat_s: float = setting("ELYSIUM_HEARTBEAT_S", 2.0, "Registry heartbeat period", unit="s", check=positive)
    heartbeat_ttl_s: float = setting("ELYSIUM_HEARTBEAT_TTL_S", 6.0, "Expiry of a heartbeat", unit="s", check=positive)
    presence_ttl_s: float = setting("ELYSIUM_PRESENCE_TTL_S", 60.0,
                                    "Expiry of a seated player's in_match presence; every seated player's is set "
                                    "again each third of it, so a dead server's players show offline within it",
                                    unit="s", check=positive)
    keyframe_interval_s: float = setting("ELYSIUM_KEYFRAME_INTERVAL_S", 2.0, "Keyframe period in the spectator feed",
                                         unit="s", check=positive)
    feed_maxlen: int = setting("ELYSIUM_FEED_MAXLEN", 50_000, "Entries kept per match feed stream", check=positive)
    feed_retention_s: int = setting("ELYSIUM_FEED_RETENTION_S", 3600, "How long a match feed outlives its match",
                                    unit="s", check=positive)
    # Agones (docs/agones.md): set by Agones in a GameServer pod; 0 off it.
    agones_sdk_port: int = setting("AGONES_SDK_HTTP_PORT", 0,
                                   "Port of the Agones SDK sidecar's REST API on localhost (0: not under Agones)",
                                   check=between(0, 65535))
    agones_health_s: float = setting("ELYSIUM_AGONES_HEALTH_S", 2.0, "Period of Health calls and seat labels to Agones",
                                     unit="s", check=positive)
    agones_idle_s: float = setting("ELYSIUM_AGONES_IDLE_S", 60.0,
                                   "How long an allocated server stays with no room before its allocation is over",
                                   unit="s", check=non_negative)
    agones_when_empty: str = setting("ELYSIUM_AGONES_WHEN_EMPTY", "ready",
                                     "When an allocation is over: ready (back in the Fleet's pool) or shutdown "
                                     "(Agones replaces the pod)", check=one_of("ready", "shutdown"))
    log_level: str = setting("ELYSIUM_LOG_LEVEL", "info", "Log level")
    cors_origins: tuple[str, ...] = cors_setting()

    def validate(self) -> None:
        if not self.redis_url:
            raise ConfigError("ELYSIUM_REDIS_URL", "is not set; point it at Redis (redis://host:port/db)")
        if not (self.join_public_key or self.join_public_key_file):
            raise ConfigError("ELYSIUM_JOIN_PUBLIC_KEY_FILE",
                              "is not set (nor ELYSIUM_JOIN_PUBLIC_KEY); the server cannot verify join tokens")
        if self.send_buffer_close_bytes <= self.send_buffer_skip_bytes:
            raise ConfigError("ELYSIUM_SEND_BUFFER_CLOSE_BYTES", "must be larger than ELYSIUM_SEND_BUFFER_SKIP_BYTES")
        if self.heartbeat_ttl_s <= self.heartbeat_s:
            raise ConfigError("ELYSIUM_HEARTBEAT_TTL_S", "must be longer than ELYSIUM_HEARTBEAT_S")
        if self.presence_ttl_s < 3 * self.heartbeat_s:
            raise ConfigError("ELYSIUM_PRESENCE_TTL_S", "must be at least three times ELYSIUM_HEARTBEAT_S (it is "
                                                        "renewed by the heartbeat)")

    @property
    def resolved_id(self) -> str:
        return self.server_id or f"{socket.gethostname()}-{self.port}-{os.getpid()}"

    def resolved_public_url(self, port: int) -> str:
        return self.public_url or f"ws://{self.host}:{port}/v1/play"
