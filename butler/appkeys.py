"""What :func:`butler.app.create_app` wires, under one typed application key; nothing global."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web
from pymongo import AsyncMongoClient

from butler import turns
from butler.budget import Budget
from butler.conversations import Conversations
from butler.metrics import ButlerMetrics
from butler.prefs import PrefsStore
from butler.proposals import Proposals
from butler.provider import Provider
from butler.ratelimit import RateLimiter
from butler.settings import ButlerSettings
from butler.tools import Toolbox
from elysium.http import VerifiedTokens

OFFLINE = "offline"
MODEL = "model"


@dataclass
class Services:
    settings: ButlerSettings
    metrics: ButlerMetrics
    tokens: VerifiedTokens
    mongo: AsyncMongoClient[dict[str, Any]]
    redis: aioredis.Redis
    session: aiohttp.ClientSession
    prefs: PrefsStore
    conversations: Conversations
    budget: Budget
    limiter: RateLimiter
    proposals: Proposals
    toolbox: Toolbox
    engine: turns.Engine
    engine_name: str  # OFFLINE or MODEL
    provider: Provider | None = None
    draining: bool = False

    @property
    def uses_tokens(self) -> bool:
        """Whether turns spend model tokens (and so are held to the daily budget)."""
        return self.engine_name == MODEL


SERVICES = web.AppKey("services", Services)
