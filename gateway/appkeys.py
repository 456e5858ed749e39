"""What the gateway's handlers share, under one typed app key."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from gateway.gameservers import GameServers
from gateway.metrics import GatewayMetrics
from gateway.proxy import Limits
from gateway.settings import GatewaySettings
from gateway.static import WebClient
from gateway.status import Status
from gateway.upstreams import Upstreams


@dataclass
class Gateway:
    settings: GatewaySettings
    metrics: GatewayMetrics
    upstreams: Upstreams
    limits: Limits
    gameservers: GameServers
    status: Status
    web: WebClient
    draining: bool = field(default=False)


GATEWAY = web.AppKey("gateway", Gateway)
