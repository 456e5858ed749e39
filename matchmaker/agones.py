"""Placement through Agones (``ELYSIUM_MATCHMAKER_ALLOCATOR=agones``): a ``GameServerAllocation``.

For each match the matchmaker creates an ``allocation.agones.dev/v1`` GameServerAllocation
through the Kubernetes API, as its service account (token and CA read from the standard
in-cluster paths, overridable by settings). The allocation asks for a GameServer of the
fleet with enough free seats (the ``agones.dev/sdk-seats-free`` label each game server keeps,
gameserver/agones.py): first one already Allocated (it hosts matches already: pack them),
else a Ready one. Agones answers with the GameServer's name (the game server's registry id,
``ELYSIUM_SERVER_ID``, set from the pod name), address and port.

The seats are then claimed in the Redis registry on that server exactly as in registry mode
(matchmaker/registry.py), so several replicas, and Agones' own label lag, never promise the
same seats twice; join tokens are issued from the assignment as usual. Any failure (no
server, 403, 500, the API unreachable) places nothing: the tickets wait for the next pass.
"""

from __future__ import annotations

import dataclasses
import logging
import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client import Counter

from elysium.agones import MATCH_ANNOTATION, SEATS_LABEL
from elysium.config import ConfigError
from matchmaker.registry import LiveServer, ServerRegistry
from matchmaker.settings import MatchmakerSettings

log = logging.getLogger("matchmaker.agones")

FLEET_LABEL = "agones.dev/fleet"
API_VERSION = "allocation.agones.dev/v1"
OUTCOMES = ("allocated", "unallocated", "contention", "forbidden", "error", "unregistered", "refused")


class AllocationError(Exception):
    """The Kubernetes API refused or failed an allocation (``outcome`` says how)."""

    def __init__(self, outcome: str, detail: str) -> None:
        super().__init__(f"{outcome}: {detail}")
        self.outcome = outcome
        self.detail = detail


@dataclasses.dataclass(frozen=True)
class Allocation:
    name: str  # the GameServer's name: the game server's registry id
    address: str
    port: int


def seat_values(seats: int, cap: int) -> list[str]:
    """Label values of the servers with at least ``seats`` free (labels are capped at ``cap``)."""
    return [str(n) for n in range(max(seats, 1), cap + 1)]


def allocation_request(fleet: str, seats: int, cap: int, match_id: str) -> dict[str, Any]:
    """The GameServerAllocation: an Allocated server of the fleet with the seats, else a Ready one."""
    def selector(state: str) -> dict[str, Any]:
        return {"matchLabels": {FLEET_LABEL: fleet}, "gameServerState": state,
                "matchExpressions": [{"key": SEATS_LABEL, "operator": "In", "values": seat_values(seats, cap)}]}

    return {"apiVersion": API_VERSION, "kind": "GameServerAllocation",
            "spec": {"scheduling": "Packed", "selectors": [selector("Allocated"), selector("Ready")],
                     "metadata": {"annotations": {MATCH_ANNOTATION: match_id}}}}


def parse_allocation(body: Any, port_name: str) -> Allocation | str:
    """An Allocation, or the state Agones answered instead (UnAllocated, Contention)."""
    status = body.get("status") if isinstance(body, dict) else None
    if not isinstance(status, dict) or not isinstance(status.get("state"), str):
        raise AllocationError("error", "the answer has no status.state")
    if status["state"] != "Allocated":
        return str(status["state"])
    ports = status.get("ports") or []
    chosen = next((p for p in ports if isinstance(p, dict) and p.get("name") == port_name), None)
    if chosen is None and ports and isinstance(ports[0], dict):
        chosen = ports[0]
    name, address = status.get("gameServerName"), status.get("address")
    if not isinstance(name, str) or not name or not isinstance(address, str) or not address or chosen is None \
            or not isinstance(chosen.get("port"), int):
        raise AllocationError("error", "an Allocated answer without gameServerName, address or port")
    return Allocation(name, address, int(chosen["port"]))


class AgonesAllocator:
    """Places a match on a game server Agones allocates; its ``place`` is the registry's."""

    def __init__(self, settings: MatchmakerSettings, registry: ServerRegistry, metrics: Any = None) -> None:
        self.registry = registry
        self.api_url = settings.agones_api_url.rstrip("/")
        self.token_file = Path(settings.agones_token_file)
        self.namespace = settings.agones_namespace or _namespace_of(self.token_file)
        self.fleet = settings.agones_fleet
        self.seats_cap = settings.agones_seats_cap
        self.url_template = settings.agones_url
        self.port_name = settings.agones_port_name
        self.timeout_s = settings.agones_timeout_s
        self.ssl: ssl.SSLContext | bool = True
        if self.api_url.startswith("https://") and settings.agones_ca_file:
            try:
                self.ssl = ssl.create_default_context(cafile=settings.agones_ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError("ELYSIUM_MATCHMAKER_AGONES_CA_FILE",
                                  f"cannot read {settings.agones_ca_file}: {exc}") from None
        self.outcomes: Counter | None = None
        if metrics is not None:
            self.outcomes = metrics.m.counter("agones_allocations_total", "GameServerAllocations by outcome: "
                                              + ", ".join(OUTCOMES), ("outcome",))
        self._session: aiohttp.ClientSession | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.api_url}/apis/{API_VERSION}/namespaces/{self.namespace}/gameserverallocations"

    def _count(self, outcome: str) -> None:
        if self.outcomes is not None:
            self.outcomes.labels(outcome).inc()

    async def allocate(self, fleet: str, seats: int, match_id: str) -> Allocation | str:
        """Create one GameServerAllocation; an Allocation, else the state Agones answered."""
        try:
            token = self.token_file.read_text().strip()  # projected tokens rotate: read each time
        except OSError as exc:
            raise AllocationError("error", f"cannot read the service account token: {exc.strerror}") from None
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        try:
            async with self._session.post(self.endpoint, json=allocation_request(fleet, seats, self.seats_cap,
                                                                                 match_id),
                                          headers={"Authorization": f"Bearer {token}"}, ssl=self.ssl) as resp:
                if resp.status == 403:
                    raise AllocationError("forbidden", "403: the service account may not create "
                                          "gameserverallocations (see the Role in k8s/overlays/agones)")
                if resp.status not in (200, 201):
                    raise AllocationError("error", f"HTTP {resp.status}: {(await resp.text())[:200]}")
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            raise AllocationError("error", f"{type(exc).__name__}: {exc}") from None
        return parse_allocation(body, self.port_name)

    async def place(self, servers: Sequence[LiveServer], region: str, game_mode: str, seats: int, match_id: str,
                    now_ms: int) -> LiveServer | None:
        """The registry's ``place`` through Agones: the allocated server with the seats claimed on it."""
        fleet = self.fleet.replace("{region}", region)
        try:
            got = await self.allocate(fleet, seats, match_id)
        except AllocationError as exc:
            self._count(exc.outcome)
            log.warning("game server allocation failed", extra={"match_id": match_id, "fleet": fleet,
                                                                "outcome": exc.outcome, "error": exc.detail})
            return None
        if isinstance(got, str):
            self._count(got.lower() if got.lower() in OUTCOMES else "error")
            return None
        server = next((s for s in servers if s.server_id == got.name and s.region == region
                       and game_mode in s.modes), None)
        if server is None:
            # Not heartbeating (yet), or not for this mode and region: left alone, it goes back to Ready when idle.
            self._count("unregistered")
            log.warning("allocated game server is not in the registry for this match",
                        extra={"match_id": match_id, "server_id": got.name, "region": region, "mode": game_mode})
            return None
        answer = await self.registry.claim(server, match_id, seats, now_ms)
        if answer != "ok":
            self._count("refused")
            log.info("allocated game server refused the seats", extra={"match_id": match_id,
                                                                       "server_id": got.name, "why": answer})
            server.seats_free = 0  # the registry disagrees with our picture; skip it this pass
            return None
        self._count("allocated")
        server.seats_free -= seats
        server.rooms_free -= 1
        address = self.url_template.replace("{address}", got.address).replace("{port}", str(got.port))
        return dataclasses.replace(server, address=address)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _namespace_of(token_file: Path) -> str:
    """The pod's namespace, beside the service account token."""
    try:
        return (token_file.parent / "namespace").read_text().strip()
    except OSError:
        raise ConfigError("ELYSIUM_MATCHMAKER_AGONES_NAMESPACE",
                          f"is not set and {token_file.parent / 'namespace'} cannot be read") from None
