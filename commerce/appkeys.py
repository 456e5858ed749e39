"""Typed application keys: everything ``create_app`` wires, and nothing global."""

from __future__ import annotations

from dataclasses import dataclass, field

import redis.asyncio as aioredis
from aiohttp import web

from commerce.accounts import Accounts
from commerce.economy import Economy
from commerce.metrics import CommerceMetrics
from commerce.ratelimit import LoginLimiter
from commerce.rewards import RewardsConsumer
from commerce.settings import CommerceSettings
from commerce.store import Store
from elysium import tokens
from elysium.http import VerifiedTokens


@dataclass
class Status:
    draining: bool = False
    mongo_ok: bool = False
    redis_ok: bool = False
    consumer: RewardsConsumer | None = field(default=None)


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
