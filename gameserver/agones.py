"""The game server under Agones: the SDK sidecar's REST client and the lifecycle it drives.

When ``AGONES_SDK_HTTP_PORT`` is set, :class:`AgonesLifecycle` runs beside the server:

- **Ready** once at start (retried until the sidecar answers);
- **Health** every ``ELYSIUM_AGONES_HEALTH_S``;
- **GameServer** read each period while no room exists, to learn that a GameServerAllocation
  allocated it;
- **Allocate** when the first room of an allocation appears (a match starts here), so the
  Fleet never scales this pod down under a running match;
- the label ``agones.dev/sdk-seats-free`` (SDK key :data:`SEATS_LABEL_KEY`): the seats a new
  match can get here, 0 when no room is free or while draining, kept current each period;
- when the allocation's last match has ended and no room appeared for
  ``ELYSIUM_AGONES_IDLE_S``: **Ready** again (``ELYSIUM_AGONES_WHEN_EMPTY=ready``, back in
  the pool, where the Fleet may scale it down) or **Shutdown** (``shutdown``: one allocation,
  its matches, then the Fleet replaces the pod);
- after a drain (SIGTERM) once the last match ended: **Shutdown**.

A sidecar that does not answer never stops the game server: each failed call is logged
(once per outage), counted in ``elysium_gameserver_agones_sdk_calls_total{call,outcome}``
and retried on the next period. The REST paths and bodies are in ``docs/agones.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
import aiohttp
from prometheus_client import Counter

from elysium.agones import SEATS_LABEL, SEATS_LABEL_KEY

log = logging.getLogger("gameserver.agones")

CALL_TIMEOUT_S = 2.0
SHUTDOWN_TRIES = 3
POLL_S = 0.1  # how often the lifecycle looks at the rooms (a match starting is seen within it)


class Call(enum.Enum):
    READY = ("ready", "POST", "/ready")
    HEALTH = ("health", "POST", "/health")
    ALLOCATE = ("allocate", "POST", "/allocate")
    SHUTDOWN = ("shutdown", "POST", "/shutdown")
    LABEL = ("label", "PUT", "/metadata/label")
    ANNOTATION = ("annotation", "PUT", "/metadata/annotation")
    GAMESERVER = ("gameserver", "GET", "/gameserver")

    def __init__(self, title: str, method: str, path: str) -> None:
        self.title = title
        self.method = method
        self.path = path


class AgonesSDK:
    """The REST API of the Agones SDK sidecar on ``localhost:port``; each call says whether it worked."""

    def __init__(self, port: int, calls: Counter, host: str = "127.0.0.1") -> None:
        self.base = f"http://{host}:{port}"
        self.calls = calls
        self.failing = False
        self._session: aiohttp.ClientSession | None = None

    async def call(self, call: Call, body: dict[str, str] | None = None) -> bool:
        return (await self._request(call, body)) is not None

    async def state(self) -> str | None:
        """The GameServer's state as the sidecar reports it (an allocation may have changed it), or None."""
        answer = await self._request(Call.GAMESERVER, None)
        status = answer.get("status") if isinstance(answer, dict) else None
        state = status.get("state") if isinstance(status, dict) else None
        return state if isinstance(state, str) else None

    async def _request(self, call: Call, body: dict[str, str] | None) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT_S))
        answer: Any = None
        try:
            payload = None if call.method == "GET" else (body or {})
            async with self._session.request(call.method, self.base + call.path, json=payload) as resp:
                raw = await resp.read()
                ok = resp.status == 200
                error = "" if ok else f"HTTP {resp.status}"
                if ok:
                    answer = json.loads(raw) if raw.strip() else {}
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            ok, error = False, f"{type(exc).__name__}: {exc}"
        except ValueError:
            ok, error = False, "the answer is not JSON"
        self.calls.labels(call.title, "ok" if ok else "error").inc()
        if ok and self.failing:
            log.info("agones sdk answers again", extra={"call": call.title})
        elif not ok and not self.failing:
            log.warning("agones sdk call failed; retrying each period", extra={"call": call.title, "error": error})
        self.failing = not ok
        return answer if ok else None

    async def set_label(self, key: str, value: str) -> bool:
        return await self.call(Call.LABEL, {"key": key, "value": value})

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


@dataclass(frozen=True)
class Occupancy:
    """What the lifecycle needs of the server each period."""
    rooms: int
    seats_label: str  # the seats-free label value (a valid label value: decimal digits)
    draining: bool


def seats_label(seats_free: int, rooms_free: int, largest_room: int) -> str:
    """Seats a new match can get here: none without a free room, never more than the largest room."""
    return "0" if rooms_free <= 0 else str(max(0, min(seats_free, largest_room)))


class AgonesLifecycle:
    """Ready, Health, Allocate, seat labels and Shutdown, driven by the server's occupancy."""

    def __init__(self, sdk: AgonesSDK, occupancy: Callable[[], Occupancy], *, health_s: float, idle_s: float,
                 when_empty: str, on_shutdown: Callable[[], Awaitable[None]] | None = None) -> None:
        self.sdk = sdk
        self.occupancy = occupancy
        self.health_s = health_s
        self.idle_s = idle_s
        self.when_empty = when_empty
        self.on_shutdown = on_shutdown  # called once Shutdown was asked for while not draining
        self.ready = False
        self.allocated = False
        self.shut = False
        self.label: str | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="agones")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_health = 0.0
        empty_since: float | None = None
        while not self._stop.is_set() and not self.shut:
            now = loop.time()
            if not self.ready:
                self.ready = await self.sdk.call(Call.READY)
            if self.ready:
                seen = self.occupancy()
                if seen.rooms and not self.allocated and not seen.draining:
                    self.allocated = await self.sdk.call(Call.ALLOCATE)
                if seen.rooms:
                    empty_since = None
                elif self.allocated and not seen.draining:
                    empty_since = now if empty_since is None else empty_since
                    if now - empty_since >= self.idle_s:
                        await self._allocation_over()
                        empty_since = None
                if now >= next_health:
                    next_health = now + self.health_s
                    await self.sdk.call(Call.HEALTH)
                    await self._sync_label(seen.seats_label)
                    # A GameServerAllocation (the matchmaker's) allocates us without a call of ours:
                    # if its players never come, the idle time still ends the allocation.
                    if not self.allocated and not seen.rooms and await self.sdk.state() == "Allocated":
                        self.allocated = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), POLL_S if self.ready else self.health_s)

    async def _sync_label(self, value: str) -> None:
        if value != self.label and await self.sdk.set_label(SEATS_LABEL_KEY, value):
            self.label = value

    async def _allocation_over(self) -> None:
        if self.when_empty == "shutdown":
            await self._sync_label("0")
            if await self.sdk.call(Call.SHUTDOWN):
                self.shut = True
                log.info("allocation over: shutdown asked of agones")
                if self.on_shutdown is not None:
                    await self.on_shutdown()
        elif await self.sdk.call(Call.READY):
            self.allocated = False
            log.info("allocation over: ready again")

    async def drained(self) -> None:
        """The drain is over (the last match ended or was ended): ask Agones to shut the pod down."""
        self._stop.set()
        if self._task is not None:
            await asyncio.wait([self._task], timeout=CALL_TIMEOUT_S * 2)
        if self.shut:
            return
        await self._sync_label("0")
        for _ in range(SHUTDOWN_TRIES):
            if await self.sdk.call(Call.SHUTDOWN):
                self.shut = True
                return
            await asyncio.sleep(0.2)

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.sdk.close()
