"""Typed application keys: everything ``create_app`` wires, and nothing global."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from aiohttp import web

from commerce.accounts import Accounts
from commerce.economy import Economy
from commerce.friends import Friends
from commerce.metrics import CommerceMetrics
from commerce.profiles import Matchmaker
from commerce.moderation import Moderation
from commerce.ratelimit import LoginLimiter
from commerce.rewards import RewardsConsumer
from commerce.settings import CommerceSettings
from commerce.store import MongoHealth, Store
from elysium import tokens
from elysium.http import VerifiedTokens


@dataclass
class Status:
    draining: bool = False
    drain_deadline: float | None = None  # time.monotonic() by which the process has stopped
    mongo_ok: bool = False
    redis_ok: bool = False
    consumer: RewardsConsumer | None = field(default=None)
    mongo_health: MongoHealth = field(default_factory=MongoHealth)

    def start_draining(self, drain_timeout_s: float) -> None:
        self.draining = True
        self.drain_deadline = time.monotonic() + drain_timeout_s

    def drain_left_s(self, drain_timeout_s: float) -> float:
        """Time left for the drain; a clean-up without a drain (tests) gets the whole drain time."""
        if self.drain_deadline is None:
            return drain_timeout_s
        return max(0.0, self.drain_deadline - time.monotonic())


SETTINGS = web.AppKey("settings", CommerceSettings)
STATUS = web.AppKey("status", Status)
METRICS = web.AppKey("metrics", CommerceMetrics)
STORE = web.AppKey("store", Store)
ECONOMY = web.AppKey("economy", Economy)
ACCOUNTS = web.AppKey("accounts", Accounts)
LIMITER = web.AppKey("limiter", LoginLimiter)
REDIS = web.AppKey("redis", aioredis.Redis)
PLAYER_TOKENS = web.AppKey("player_tokens", VerifiedTokens)
ADMIN_VERIFIER: web.AppKey[tokens.Verifier | None] = web.AppKey("admin_verifier")
FRIENDS = web.AppKey("friends", Friends)
MATCHMAKER = web.AppKey("matchmaker", Matchmaker)
MODERATION = web.AppKey("moderation", Moderation)
