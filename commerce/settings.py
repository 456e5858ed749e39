"""Commerce settings, read once from ``ELYSIUM_*`` variables."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elysium.config import ConfigError, between, cors_setting, one_of, positive, redis_url, setting
from elysium.forwarded import parse_networks

DEFAULT_CATALOG = str(Path(__file__).with_name("catalog.json"))
SRV = "mongodb+srv://"


def mongo_uri(value: str) -> str | None:
    """Why ``value`` is not a MongoDB connection string, or None (unset is left to ``validate``).

    Read as the driver reads it, without connecting: a ``mongodb+srv://`` URI is checked as
    written, its DNS look-up left to the driver. The URI itself (a secret) is never repeated.
    """
    from pymongo import uri_parser
    from pymongo.errors import ConfigurationError

    if not value:
        return None
    if not value.startswith(("mongodb://", SRV)):
        return "is not a MongoDB URI: it must begin with mongodb:// or mongodb+srv://"
    try:
        if value.startswith(SRV):
            parsed = uri_parser.parse_uri("mongodb://" + value[len(SRV):], default_port=None)
            if len(parsed["nodelist"]) != 1 or parsed["nodelist"][0][1] is not None:
                return "is not a valid mongodb+srv:// URI: give exactly one host name and no port"
        else:
            uri_parser.parse_uri(value)
    except (ConfigurationError, ValueError) as exc:
        return f"is not a valid MongoDB URI: {exc}"
    return None


# The chain settings commerce and ``elysium audit`` share (one definition each).
def _networks(value: str) -> str | None:
    try:
        parse_networks(value)
    except ValueError as exc:
        return str(exc)
    return None


def _chain_url() -> Any:
    return setting("ELYSIUM_CHAIN_URL", "", "Ethereum JSON-RPC endpoint holding the item contracts (elysium up "
                                            "starts an embedded chain when unset; a service started alone without "
                                            "it has withdrawals off, and the audit skips the chain)", secret=True)


def _chain_id() -> Any:
    return setting("ELYSIUM_CHAIN_ID", 131277322940537, "Chain id the endpoint must answer at start, and Sign-In "
                                                        "with Ethereum messages carry (default: the embedded chain's)",
                   check=positive)


def _chain_key_file() -> Any:
    return setting("ELYSIUM_CHAIN_KEY_FILE", "", "File holding the custody key (64 hex digits), the minter of "
                                                 "withdrawn items and the address deposits are sent to")


def _chain_items() -> Any:
    return setting("ELYSIUM_CHAIN_ITEMS_ADDRESS", "", "Address of the ElysiumItems contract")


def _chain_rights() -> Any:
    return setting("ELYSIUM_CHAIN_RIGHTS_ADDRESS", "", "Address of the ElysiumRights contract")


def _chain_from_block() -> Any:
    return setting("ELYSIUM_CHAIN_FROM_BLOCK", 0, "First block the deposit reconciler reads when it has no cursor "
                                                  "yet (the block the contracts were deployed in)",
                   check=between(0, 2**63 - 1))


def check_chain_settings(url: str, key_file: str, items: str, rights: str) -> None:
    if not url:
        return
    if not url.startswith(("http://", "https://")):
        raise ConfigError("ELYSIUM_CHAIN_URL", "must be an http(s) URL of an Ethereum JSON-RPC endpoint")
    for variable, value in (("ELYSIUM_CHAIN_KEY_FILE", key_file), ("ELYSIUM_CHAIN_ITEMS_ADDRESS", items),
                            ("ELYSIUM_CHAIN_RIGHTS_ADDRESS", rights)):
        if not value:
            raise ConfigError(variable, "is not set; it is needed with ELYSIUM_CHAIN_URL")


def authority_problem(value: str) -> str | None:
    """Why ``value`` is not a host with an optional port (an RFC 3986 authority without user info), or None."""
    from commerce.siwe import is_authority

    if not value or "@" in value or not is_authority(value):
        return "must be a host name with an optional port, such as play.example.com or localhost:8080"
    return None


@dataclass(frozen=True)
class CommerceSettings:
    host: str = setting("ELYSIUM_COMMERCE_HOST", "127.0.0.1", "Address commerce listens on")
    port: int = setting("ELYSIUM_COMMERCE_PORT", 7380, "Port of the /v1 API and /healthz, /readyz, /metrics",
                        check=between(0, 65535))
    mongo_url: str = setting("ELYSIUM_MONGO_URL", "", "MongoDB holding accounts, wallets, ledger and items",
                             secret=True, check=mongo_uri)
    mongo_timeout_s: float = setting("ELYSIUM_COMMERCE_MONGO_TIMEOUT_S", 5.0,
                                     "Deadline of each MongoDB operation, and of a whole transaction with its "
                                     "retries; past it the request answers 503 with Retry-After",
                                     unit="s", check=between(0.1, 120))
    unhealthy_after_s: float = setting("ELYSIUM_COMMERCE_UNHEALTHY_AFTER_S", 30.0,
                                       "/healthz answers 503 once every MongoDB command has failed or timed out "
                                       "for this long, with none succeeding", unit="s", check=between(1, 3600))
    lease_s: float = setting("ELYSIUM_COMMERCE_LEASE_S", 5.0,
                             "How often a replica renews the lease on its MongoDB sessions; a lease not renewed "
                             "for twice this is a crashed replica's, whose open transactions the others abort",
                             unit="s", check=between(0.5, 300))
    db_name: str = setting("ELYSIUM_COMMERCE_DB", "elysium_commerce", "MongoDB database name of commerce")
    redis_url: str = setting("ELYSIUM_REDIS_URL", "", "Redis for login rate limits and the match results stream",
                             secret=True, check=redis_url)
    player_private_key_file: str = setting("ELYSIUM_PLAYER_PRIVATE_KEY_FILE", "",
                                           "Ed25519 private key (PEM file) that signs player access tokens")
    player_public_key_file: str = setting("ELYSIUM_PLAYER_PUBLIC_KEY_FILE", "",
                                          "Its public key (PEM file); derived from the private key when unset")
    service_public_key_file: str = setting("ELYSIUM_SERVICE_PUBLIC_KEY_FILE", "",
                                           "Public key (PEM file) verifying service tokens for /v1/admin; "
                                           "unset: the admin API answers 403")
    catalog_file: str = setting("ELYSIUM_COMMERCE_CATALOG_FILE", "",
                                "Versioned catalog file loaded at start when newer than the stored one "
                                "(default: the catalog.json shipped in the commerce package)")
    access_token_ttl_s: int = setting("ELYSIUM_ACCESS_TOKEN_TTL_S", 900, "Lifetime of a player access token",
                                      unit="s", check=between(30, 86_400))
    refresh_token_ttl_s: int = setting("ELYSIUM_REFRESH_TOKEN_TTL_S", 30 * 86_400, "Lifetime of a refresh token",
                                       unit="s", check=between(60, 365 * 86_400))
    refresh_reuse_grace_s: float = setting("ELYSIUM_REFRESH_REUSE_GRACE_S", 10.0,
                                           "A refresh token used again this soon, before its successor is used, "
                                           "answers that same successor instead of revoking the login (0: never)",
                                           unit="s", check=between(0, 300))
    argon2_time_cost: int = setting("ELYSIUM_ARGON2_TIME_COST", 3, "argon2id passes over memory",
                                    check=between(1, 20))
    argon2_memory_kib: int = setting("ELYSIUM_ARGON2_MEMORY_KIB", 65_536, "argon2id memory per hash", unit="KiB",
                                     check=between(64, 4_194_304))
    login_max_failures: int = setting("ELYSIUM_LOGIN_MAX_FAILURES", 10,
                                      "Failed logins per username per window before 429", check=positive)
    login_max_failures_per_address: int = setting("ELYSIUM_LOGIN_MAX_FAILURES_PER_ADDRESS", 50,
                                                  "Failed logins per client address per window before 429",
                                                  check=positive)
    login_window_s: int = setting("ELYSIUM_LOGIN_WINDOW_S", 300, "Window of the login rate limits", unit="s",
                                  check=between(1, 86_400))
    trusted_proxies: str = setting("ELYSIUM_COMMERCE_TRUSTED_PROXIES", "",
                                   "Comma-separated addresses or networks (CIDR) of the proxies in front of commerce "
                                   "(the gateway, the ingress): behind them the client's address, which the login "
                                   "limit counts, is read from X-Forwarded-For; unset: the peer's address",
                                   check=_networks)
    rewards_enabled: bool = setting("ELYSIUM_COMMERCE_REWARDS", True,
                                    "Consume the match results stream and grant rewards")
    rewards_group: str = setting("ELYSIUM_COMMERCE_REWARDS_GROUP", "commerce-rewards",
                                 "Redis consumer group shared by every commerce replica")
    consumer_name: str = setting("ELYSIUM_COMMERCE_CONSUMER", "",
                                 "This replica's consumer name in that group (default: host name and pid)")
    rewards_claim_idle_s: float = setting("ELYSIUM_COMMERCE_REWARDS_CLAIM_IDLE_S", 30.0,
                                          "Results left unacknowledged this long by another replica are taken over",
                                          unit="s", check=positive)
    txn_attempts: int = setting("ELYSIUM_COMMERCE_TXN_ATTEMPTS", 60,
                                "Tries of a conflicting transaction before the request answers 503 busy",
                                check=between(1, 1000))
    max_body_bytes: int = setting("ELYSIUM_COMMERCE_MAX_BODY_BYTES", 16_384, "Largest request body", unit="bytes",
                                  check=between(1024, 1_048_576))
    drain_timeout_s: float = setting("ELYSIUM_COMMERCE_DRAIN_TIMEOUT_S", 10.0,
                                     "On SIGTERM, how long the whole drain may take: requests in flight finish, "
                                     "then connections close; the process exits within it", unit="s",
                                     check=between(1, 3600))
    trade_ttl_s: int = setting("ELYSIUM_COMMERCE_TRADE_TTL_S", 86_400,
                               "How long a trade offer stays open when the offer names no expiry", unit="s",
                               check=between(60, 30 * 86_400))
    trade_max_ttl_s: int = setting("ELYSIUM_COMMERCE_TRADE_MAX_TTL_S", 7 * 86_400,
                                   "The longest expiry an offer may ask for (expires_in_s)", unit="s",
                                   check=between(60, 30 * 86_400))
    trade_sweep_s: float = setting("ELYSIUM_COMMERCE_TRADE_SWEEP_S", 5.0,
                                   "How often each replica expires trades past their time and returns their escrow",
                                   unit="s", check=between(0.01, 3600))
    market_fee_bps: int = setting("ELYSIUM_COMMERCE_MARKET_FEE_BPS", 500,
                                  "The house's fee on a marketplace sale, in basis points of its price (500: 5 %), "
                                  "fixed on each listing when it is created", unit="bp", check=between(0, 5000))
    market_max_expiry_s: int = setting("ELYSIUM_COMMERCE_MARKET_MAX_EXPIRY_S", 30 * 86_400,
                                       "Longest a listing stays open, and its expiry when none is given", unit="s",
                                       check=between(60, 365 * 86_400))
    market_sweep_interval_s: float = setting("ELYSIUM_COMMERCE_MARKET_SWEEP_INTERVAL_S", 5.0,
                                             "How often each replica returns the items of expired "
                                             "listings and credits the house's pending fees",
                                             unit="s", check=between(0.01, 3600))
    # The chain (commerce/chain, docs/chain.md): withdrawing items as ERC-1155 tokens and depositing them back.
    chain_url: str = _chain_url()
    chain_id: int = _chain_id()
    chain_key_file: str = _chain_key_file()
    chain_items_address: str = _chain_items()
    chain_rights_address: str = _chain_rights()
    chain_timeout_s: float = setting("ELYSIUM_CHAIN_TIMEOUT_S", 10.0,
                                     "Deadline of each request to the chain; past it the chain counts as down",
                                     unit="s", check=between(0.1, 300))
    chain_receipt_timeout_s: float = setting("ELYSIUM_CHAIN_RECEIPT_TIMEOUT_S", 60.0,
                                             "How long a withdrawal request waits for its receipt before answering "
                                             "202 withdrawing (the reconciler then finishes it)", unit="s",
                                             check=between(0.1, 3600))
    chain_confirmations: int = setting("ELYSIUM_CHAIN_CONFIRMATIONS", 0,
                                       "Blocks on top of a receipt or a deposit before it counts (0 on the embedded "
                                       "chain, which never reorganises)", unit="blocks", check=between(0, 1000))
    chain_poll_s: float = setting("ELYSIUM_CHAIN_POLL_S", 2.0,
                                  "How often the reconciler reads new blocks for deposits and resolves "
                                  "interrupted withdrawals", unit="s", check=between(0.01, 3600))
    chain_from_block: int = _chain_from_block()
    chain_fault: str = setting("ELYSIUM_CHAIN_FAULT", "",
                               "Tests only: the process kills itself (SIGKILL) at this step of a withdrawal: "
                               "before_sign, before_send (signed and recorded), after_send or after_receipt",
                               check=one_of("", "before_sign", "before_send", "after_send", "after_receipt"))
    max_friends: int = setting("ELYSIUM_COMMERCE_MAX_FRIENDS", 200,
                               "Most friends a player may have (a request or an accept past it answers 409)",
                               check=between(1, 1000))
    max_friend_requests: int = setting("ELYSIUM_COMMERCE_MAX_FRIEND_REQUESTS", 100,
                                       "Most pending friend requests a player may have sent, and received",
                                       check=between(1, 1000))
    max_blocks: int = setting("ELYSIUM_COMMERCE_MAX_BLOCKS", 1000, "Most players a player may block",
                              check=between(1, 100_000))
    matchmaker_url: str = setting("ELYSIUM_COMMERCE_MATCHMAKER_URL", "",
                                  "Base URL of the matchmaker's HTTP API (http://host:port), read for the ratings "
                                  "and recent matches of public profiles; unset: those parts answer unavailable")
    spectator_url: str = setting("ELYSIUM_COMMERCE_SPECTATOR_URL", "",
                                 "Public URL of the spectator relay (ws://host:port or wss://...); set, the watch "
                                 "links in friends' presence are absolute, else paths on the relay")
    matchmaker_timeout_s: float = setting("ELYSIUM_COMMERCE_MATCHMAKER_TIMEOUT_S", 2.0,
                                          "Deadline of each call to the matchmaker for a profile; past it those "
                                          "parts answer unavailable", unit="s", check=between(0.1, 30))
    # Linking a wallet with Sign-In with Ethereum (docs/chain.md, "Linking a wallet").
    siwe_domain: str = setting("ELYSIUM_SIWE_DOMAIN", "localhost",
                               "The domain (RFC 3986 authority: host and optional port) of the site that asks "
                               "players to sign in with Ethereum; a wallet-linking message must name it",
                               check=authority_problem)
    siwe_challenge_ttl_s: int = setting("ELYSIUM_SIWE_CHALLENGE_TTL_S", 300,
                                        "How long a wallet-linking challenge (its nonce and its message's "
                                        "expiration time) stays valid", unit="s", check=between(30, 3600))
    log_level: str = setting("ELYSIUM_LOG_LEVEL", "info", "Log level")
    cors_origins: tuple[str, ...] = cors_setting()
    # Real-money payments for premium currency packs (commerce/payments, docs/commerce.md "Payments").
    payments_provider: str = setting("ELYSIUM_PAYMENTS_PROVIDER", "off",
                                     "Who takes real-money payments for premium packs: off, sandbox (payments "
                                     "completed locally, offline; elysium up's default) or stripe",
                                     check=one_of("off", "sandbox", "stripe"))
    stripe_secret_key: str = setting("ELYSIUM_STRIPE_SECRET_KEY", "", "Stripe secret API key (sk_...)", secret=True)
    stripe_secret_key_file: str = setting("ELYSIUM_STRIPE_SECRET_KEY_FILE", "", "File holding that key instead")
    stripe_webhook_secret: str = setting("ELYSIUM_STRIPE_WEBHOOK_SECRET", "",
                                         "Signing secret of the Stripe webhook endpoint (whsec_...)", secret=True)
    stripe_webhook_secret_file: str = setting("ELYSIUM_STRIPE_WEBHOOK_SECRET_FILE", "",
                                              "File holding that secret instead")
    stripe_api_base: str = setting("ELYSIUM_STRIPE_API_BASE", "",
                                   "Base URL of Stripe's API (default: Stripe's own; set for a proxy or a stand-in)")
    payments_success_url: str = setting("ELYSIUM_PAYMENTS_SUCCESS_URL", "",
                                        "Where the payment page sends a player who paid (needed with stripe)")
    payments_cancel_url: str = setting("ELYSIUM_PAYMENTS_CANCEL_URL", "",
                                       "Where the payment page sends a player who gave up (optional)")
    payments_webhook_tolerance_s: int = setting("ELYSIUM_PAYMENTS_WEBHOOK_TOLERANCE_S", 300,
                                                "A webhook signed longer ago than this is refused as a replay",
                                                unit="s", check=between(10, 3600))
    payments_sandbox_secret: str = setting("ELYSIUM_PAYMENTS_SANDBOX_SECRET", "",
                                           "Signing secret of the sandbox provider's events (default: random at "
                                           "start)", secret=True)

    def validate(self) -> None:
        if self.payments_provider == "stripe":
            if not (self.stripe_secret_key or self.stripe_secret_key_file):
                raise ConfigError("ELYSIUM_STRIPE_SECRET_KEY", "is not set (nor ELYSIUM_STRIPE_SECRET_KEY_FILE); "
                                                               "the stripe payments provider needs it")
            if not (self.stripe_webhook_secret or self.stripe_webhook_secret_file):
                raise ConfigError("ELYSIUM_STRIPE_WEBHOOK_SECRET", "is not set (nor ELYSIUM_STRIPE_WEBHOOK_SECRET_FILE)"
                                                                   "; webhooks cannot be verified without it")
            if not self.payments_success_url.startswith(("https://", "http://")):
                raise ConfigError("ELYSIUM_PAYMENTS_SUCCESS_URL", "must be an http(s) URL with the stripe provider")
        if not self.mongo_url:
            raise ConfigError("ELYSIUM_MONGO_URL", "is not set; point it at MongoDB (mongodb://host:port/?...)")
        if not self.redis_url:
            raise ConfigError("ELYSIUM_REDIS_URL", "is not set; point it at Redis (redis://host:port/db)")
        if not self.player_private_key_file:
            raise ConfigError("ELYSIUM_PLAYER_PRIVATE_KEY_FILE",
                              "is not set; commerce signs player access tokens with it")
        if self.trade_ttl_s > self.trade_max_ttl_s:
            raise ConfigError("ELYSIUM_COMMERCE_TRADE_TTL_S",
                              "must not be longer than ELYSIUM_COMMERCE_TRADE_MAX_TTL_S")
        check_chain_settings(self.chain_url, self.chain_key_file, self.chain_items_address, self.chain_rights_address)
        if self.spectator_url and not self.spectator_url.startswith(("ws://", "wss://")):
            raise ConfigError("ELYSIUM_COMMERCE_SPECTATOR_URL", "must be a ws(s) URL (ws://host:port)")
        if self.matchmaker_url and not self.matchmaker_url.startswith(("http://", "https://")):
            raise ConfigError("ELYSIUM_COMMERCE_MATCHMAKER_URL", "must be an http(s) URL (http://host:port)")
        if not self.db_name or any(c in self.db_name for c in '/\\. "$'):
            raise ConfigError("ELYSIUM_COMMERCE_DB", "must be a MongoDB database name without / \\ . space \" $")

    @property
    def resolved_catalog_file(self) -> str:
        return self.catalog_file or DEFAULT_CATALOG

    @property
    def resolved_consumer(self) -> str:
        return self.consumer_name or f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class AuditSettings:
    """What ``elysium audit`` reads: the database and, when given, the chain (read only)."""

    mongo_url: str = setting("ELYSIUM_MONGO_URL", "", "MongoDB holding accounts, wallets, ledger and items",
                             secret=True, check=mongo_uri)
    db_name: str = setting("ELYSIUM_COMMERCE_DB", "elysium_commerce", "MongoDB database name of commerce")
    chain_url: str = _chain_url()
    chain_id: int = _chain_id()
    chain_key_file: str = _chain_key_file()
    chain_items_address: str = _chain_items()
    chain_rights_address: str = _chain_rights()
    chain_from_block: int = _chain_from_block()

    def validate(self) -> None:
        if not self.mongo_url:
            raise ConfigError("ELYSIUM_MONGO_URL", "is not set; point it at the MongoDB to audit")
        check_chain_settings(self.chain_url, self.chain_key_file, self.chain_items_address, self.chain_rights_address)


@dataclass(frozen=True)
class ChainServerSettings:
    host: str = setting("ELYSIUM_CHAIN_HOST", "127.0.0.1", "Address the embedded chain listens on")
    port: int = setting("ELYSIUM_CHAIN_PORT", 8545, "Port of the embedded chain's JSON-RPC endpoint and probes",
                        check=between(0, 65535))
    state_dir: str = setting("ELYSIUM_CHAIN_STATE_DIR", ".elysium/chain",
                             "Folder of the embedded chain: its journal of transactions, the contracts' addresses "
                             "and the development custody key")
    log_level: str = setting("ELYSIUM_LOG_LEVEL", "info", "Log level")

    def validate(self) -> None:
        pass
