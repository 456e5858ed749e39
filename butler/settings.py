"""Butler settings, read once from ``ELYSIUM_*`` (and the OpenAI SDK's own ``OPENAI_*``) variables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elysium.config import ConfigError, between, cors_setting, http_url, redis_url, setting

MAX_BUDGET_CEILING = 10_000_000  # tokens a day: the highest operator maximum the settings accept


def mongo_uri(value: Any) -> str | None:
    """Why ``value`` is not a MongoDB connection string, or None (unset is left to ``validate``).

    Parsed as the driver parses it, without connecting; the URI itself (a secret) is never repeated.
    """
    from pymongo import uri_parser
    from pymongo.errors import ConfigurationError

    if not value:
        return None
    if not isinstance(value, str) or not value.startswith(("mongodb://", "mongodb+srv://")):
        return "is not a MongoDB URI: it must begin with mongodb:// or mongodb+srv://"
    if value.startswith("mongodb+srv://"):
        return None  # its DNS look-up is the driver's, at start
    try:
        uri_parser.parse_uri(value)
    except (ConfigurationError, ValueError) as exc:
        return f"is not a valid MongoDB URI: {exc}"
    return None


@dataclass(frozen=True)
class ButlerSettings:
    host: str = setting("ELYSIUM_BUTLER_HOST", "127.0.0.1", "Address the butler listens on")
    port: int = setting("ELYSIUM_BUTLER_PORT", 7390, "Port of the butler's /v1 API and /healthz, /readyz, /metrics",
                        check=between(0, 65535))
    mongo_url: str = setting("ELYSIUM_MONGO_URL", "", "MongoDB holding butler settings, conversations, proposals "
                             "and token usage", secret=True, check=mongo_uri)
    db_name: str = setting("ELYSIUM_BUTLER_DB", "elysium_butler", "MongoDB database name of the butler")
    mongo_timeout_s: float = setting("ELYSIUM_BUTLER_MONGO_TIMEOUT_S", 5.0,
                                     "Deadline of each MongoDB operation of the butler; past it the request answers "
                                     "503 with Retry-After", unit="s", check=between(0.1, 120))
    redis_url: str = setting("ELYSIUM_REDIS_URL", "", "Redis holding the butler's rate-limit counters", secret=True,
                             check=redis_url)
    player_public_key: str = setting("ELYSIUM_PLAYER_PUBLIC_KEY", "", "PEM of the key that verifies player tokens")
    player_public_key_file: str = setting("ELYSIUM_PLAYER_PUBLIC_KEY_FILE", "", "File holding that PEM instead")
    commerce_url: str = setting("ELYSIUM_BUTLER_COMMERCE_URL", "",
                                "Base URL of commerce (http://host:port), which the butler's tools call as the player",
                                check=http_url)
    matchmaker_url: str = setting("ELYSIUM_BUTLER_MATCHMAKER_URL", "",
                                  "Base URL of the matchmaker (http://host:port), which the butler's tools call as "
                                  "the player", check=http_url)
    tools_timeout_s: float = setting("ELYSIUM_BUTLER_TOOLS_TIMEOUT_S", 5.0,
                                     "Deadline of each call a tool makes to commerce or the matchmaker", unit="s",
                                     check=between(0.1, 120))
    openai_api_key: str = setting("OPENAI_API_KEY", "", "API key of the OpenAI-compatible model; unset (and its "
                                  "file unset): the offline intent engine answers, using no tokens", secret=True)
    openai_api_key_file: str = setting("ELYSIUM_BUTLER_OPENAI_API_KEY_FILE", "",
                                       "File holding that API key instead (a mounted secret)")
    openai_base_url: str = setting("OPENAI_BASE_URL", "", "Base URL of an OpenAI-compatible API "
                                   "(default: OpenAI's own)", check=http_url)
    model: str = setting("ELYSIUM_BUTLER_MODEL", "gpt-4o-mini", "Chat-completions model the butler asks")
    provider_timeout_s: float = setting("ELYSIUM_BUTLER_PROVIDER_TIMEOUT_S", 30.0,
                                        "Deadline of each request to the model provider", unit="s",
                                        check=between(1, 600))
    provider_retries: int = setting("ELYSIUM_BUTLER_PROVIDER_RETRIES", 2,
                                    "Retries of a model request answered 429 or 5xx (with backoff, honouring "
                                    "Retry-After)", check=between(0, 10))
    max_tool_rounds: int = setting("ELYSIUM_BUTLER_MAX_TOOL_ROUNDS", 6,
                                   "Rounds of tool calls the model may make in one turn", check=between(1, 20))
    proposal_ttl_s: float = setting("ELYSIUM_BUTLER_PROPOSAL_TTL_S", 300.0,
                                    "How long a proposed action may be confirmed", unit="s", check=between(10, 3600))
    chat_per_window: int = setting("ELYSIUM_BUTLER_CHAT_LIMIT", 20, "Chat messages a player may send per "
                                   "rate-limit window", check=between(1, 10_000))
    confirm_per_window: int = setting("ELYSIUM_BUTLER_CONFIRM_LIMIT", 20, "Confirmations a player may send per "
                                      "rate-limit window", check=between(1, 10_000))
    rate_window_s: int = setting("ELYSIUM_BUTLER_RATE_WINDOW_S", 60, "Length of the per-player rate-limit window",
                                 unit="s", check=between(1, 86_400))
    default_daily_tokens: int = setting("ELYSIUM_BUTLER_DEFAULT_DAILY_TOKENS", 50_000,
                                        "Model tokens a player may use per UTC day unless their settings say less",
                                        unit="tokens", check=between(0, MAX_BUDGET_CEILING))
    max_daily_tokens: int = setting("ELYSIUM_BUTLER_MAX_DAILY_TOKENS", 200_000,
                                    "Highest daily token budget a player may set", unit="tokens",
                                    check=between(0, MAX_BUDGET_CEILING))
    max_messages: int = setting("ELYSIUM_BUTLER_MAX_MESSAGES", 200,
                                "Entries kept per conversation (the oldest go first)", check=between(10, 10_000))
    max_conversations: int = setting("ELYSIUM_BUTLER_MAX_CONVERSATIONS", 50,
                                     "Conversations kept per player (the oldest go first)", check=between(1, 10_000))
    max_body_bytes: int = setting("ELYSIUM_BUTLER_MAX_BODY_BYTES", 32_768, "Largest request body", unit="bytes",
                                  check=between(1024, 1024 ** 2))
    drain_timeout_s: float = setting("ELYSIUM_BUTLER_DRAIN_TIMEOUT_S", 30.0,
                                     "On SIGTERM, how long chats in flight may stream before the process exits "
                                     "(new chats answer 503 draining at once)", unit="s", check=between(0.5, 600))
    log_level: str = setting("ELYSIUM_LOG_LEVEL", "info", "Log level")
    cors_origins: tuple[str, ...] = cors_setting()

    def validate(self) -> None:
        for variable, value, what in (
                ("ELYSIUM_MONGO_URL", self.mongo_url, "point it at MongoDB (mongodb://host:port)"),
                ("ELYSIUM_REDIS_URL", self.redis_url, "point it at Redis (redis://host:port/db)"),
                ("ELYSIUM_BUTLER_COMMERCE_URL", self.commerce_url, "give commerce's base URL (http://host:port)"),
                ("ELYSIUM_BUTLER_MATCHMAKER_URL", self.matchmaker_url,
                 "give the matchmaker's base URL (http://host:port)")):
            if not value:
                raise ConfigError(variable, f"is not set; {what}")
        if not (self.player_public_key or self.player_public_key_file):
            raise ConfigError("ELYSIUM_PLAYER_PUBLIC_KEY_FILE", "is not set (nor ELYSIUM_PLAYER_PUBLIC_KEY); the butler "
                                                                "verifies player tokens with it")
        if self.openai_api_key and self.openai_api_key_file:
            raise ConfigError("ELYSIUM_BUTLER_OPENAI_API_KEY_FILE", "is set as well as OPENAI_API_KEY; set one")
        if self.openai_api_key_file:
            self.api_key()
        if self.default_daily_tokens > self.max_daily_tokens:
            raise ConfigError("ELYSIUM_BUTLER_DEFAULT_DAILY_TOKENS",
                              f"must not be above ELYSIUM_BUTLER_MAX_DAILY_TOKENS ({self.max_daily_tokens})")

    def api_key(self) -> str:
        """The model's API key (from the variable or its file); empty: the offline engine answers."""
        if not self.openai_api_key_file:
            return self.openai_api_key.strip()
        try:
            key = Path(self.openai_api_key_file).read_text().strip()
        except OSError as exc:
            raise ConfigError("ELYSIUM_BUTLER_OPENAI_API_KEY_FILE",
                              f"cannot read {self.openai_api_key_file}: {exc.strerror}") from None
        if not key or any(c.isspace() for c in key):
            raise ConfigError("ELYSIUM_BUTLER_OPENAI_API_KEY_FILE",
                              f"{self.openai_api_key_file} must hold one API key on one line")
        return key
