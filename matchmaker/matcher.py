"""The matching loop: one pass reads the queues and the registry, asks the core for
proposals, and turns them into matches through the atomic claims of :class:`TicketQueue`
and :class:`ServerRegistry`. Any number of replicas may run it against one Redis."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.exceptions import RedisError

from matchmaker.core import Proposal, propose
from matchmaker.modes import ModeConfig
from matchmaker.registry import LiveServer, ServerRegistry
from matchmaker.tickets import TicketQueue

log = logging.getLogger("matchmaker.matcher")


@dataclass(slots=True)
class PassReport:
    proposed: int = 0
    matches: int = 0
    players: int = 0
    lost_races: int = 0  # proposals whose tickets another replica (or a cancel) took first
    no_server: int = 0
    expired: int = 0
    requeued: int = 0
    waiting: dict[str, int] = field(default_factory=dict)  # tickets left in each mode's queue after the pass
    waits: list[tuple[str, float]] = field(default_factory=list)  # (mode, longest wait in s) of each match formed


class Placer(Protocol):
    """Another way to place a match than the registry's own (matchmaker/agones.py)."""

    async def place(self, servers: Sequence[LiveServer], region: str, game_mode: str, seats: int, match_id: str,
                    now_ms: int) -> LiveServer | None: ...


def new_match_id(mode: str) -> str:
    return f"{mode}.{secrets.token_hex(12)}"


def room_claim(mode: ModeConfig, prop: Proposal, seed: int) -> dict[str, Any]:
    """The ``room`` claim of the join tokens: everything the game server needs to build the room."""
    return room_for(mode, prop.roster, seed)


def room_for(mode: ModeConfig, roster: Sequence[tuple[str, int]], seed: int,
             options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A room claim for ``roster`` ((player id, team) pairs); ``options`` (a custom game's, every
    declared option resolved) replaces the queue mode's own."""
    settings = mode.room_settings()
    if options is not None:
        settings["options"] = dict(options)
    return {
        "mode": mode.game_mode,
        "seats": len(roster),
        "teams": mode.teams,
        "roster": [[pid, team] for pid, team in roster],
        "min_players": min(mode.min_players, len(roster)),
        **settings,
        "start_timeout_s": mode.start_timeout_s,
        "seed": seed,
    }


def assignment(mode: ModeConfig, match_id: str, server: LiveServer, room: dict[str, Any],
               now_ms: int) -> dict[str, Any]:
    """What a matched ticket records (``match``): the room and where it is; its players' join
    tokens are issued from it when they read the ticket."""
    return {"match_id": match_id, "mode": mode.name, "server_id": server.server_id, "address": server.address,
            "region": server.region, "room": room, "formed_ms": now_ms}


class Matcher:
    def __init__(self, queue: TicketQueue, registry: ServerRegistry, modes: Mapping[str, ModeConfig], *,
                 max_tickets: int, metrics: Any = None, allocator: Placer | None = None) -> None:
        self.queue = queue
        self.registry = registry
        self.allocator = allocator  # None: the registry places matches
        self.modes = modes
        self.max_tickets = max_tickets
        self.metrics = metrics
        self.misfits_logged: set[tuple[str, str]] = set()  # (queue mode, server) pairs already warned of

    def hosts(self, server: LiveServer, mode: ModeConfig) -> bool:
        """Whether ``server`` runs the queue mode's game mode with settings it accepts (a server
        that advertises no declaration, an older one, is taken at its word)."""
        if mode.game_mode not in server.modes:
            return False
        declaration = server.declarations.get(mode.game_mode)
        if declaration is None:
            return mode.game_mode not in server.undeclared
        problem = mode.misfit(declaration)
        if problem is not None and (mode.name, server.server_id) not in self.misfits_logged:
            self.misfits_logged.add((mode.name, server.server_id))
            log.warning("queue mode does not fit a game server's declaration",
                        extra={"mode": mode.name, "server_id": server.server_id, "problem": problem})
        return problem is None

    async def run_pass(self, now_ms: int | None = None) -> PassReport:
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        report = PassReport()
        servers = await self.registry.live(now)
        every_server = servers
        for mode in self.modes.values():
            capacity: dict[str, int] = {}
            servers = [s for s in every_server if self.hosts(s, mode)]
            for s in servers:
                if s.rooms_free > 0 and s.seats_free > 0:
                    capacity[s.region] = capacity.get(s.region, 0) + s.seats_free
            if not capacity:
                continue  # no server could host a match of this mode: leave its queue alone
            entries = await self.queue.waiting_entries(mode.name, self.max_tickets)
            if not entries:
                continue
            proposals = propose(entries, mode, now, capacity)
            report.proposed += len(proposals)
            await self._form(mode, proposals, servers, now, report)
        report.expired, report.requeued = await self.queue.sweep(list(self.modes), now)
        report.waiting = await self.queue.depths(list(self.modes))
        if self.metrics is not None:
            self.metrics.observe_pass(report)
        return report

    async def _form(self, mode: ModeConfig, proposals: list[Proposal], servers: list[LiveServer], now: int,
                    report: PassReport) -> None:
        if not proposals:
            return
        wanted = [(new_match_id(mode.name), p) for p in proposals]
        claimed = [w for w, ok in zip(wanted, await self.queue.claim(wanted), strict=True) if ok]
        report.lost_races += len(wanted) - len(claimed)
        choice: list[LiveServer | None] = []
        if self.allocator is not None:  # Agones: each match's server is allocated, its seats claimed
            for match_id, prop in claimed:
                choice.append(await self.allocator.place(servers, prop.region, mode.game_mode, prop.players,
                                                         match_id, now))
            answers = iter(["ok"] * len(claimed))
        else:
            # First choices for all matches in one round trip, then a few retries one by one.
            for match_id, prop in claimed:
                cands = self.registry.candidates(servers, prop.region, mode.game_mode, prop.players)
                server = cands[0] if cands else None
                if server is not None:
                    server.seats_free -= prop.players
                    server.rooms_free -= 1
                choice.append(server)
            asked = [(s, mid, p.players) for s, (mid, p) in zip(choice, claimed, strict=True) if s is not None]
            answers = iter(await self.registry.claim_many(asked, now))
        placed: list[tuple[str, Proposal, LiveServer]] = []
        unplaced: list[tuple[str, str, tuple[str, ...]]] = []
        for server, (match_id, prop) in zip(choice, claimed, strict=True):
            got = server if server is not None and next(answers) == "ok" else None
            if got is None and server is not None:
                server.seats_free = 0  # the registry disagrees with our picture; skip it this pass
                got = await self.registry.place(servers, prop.region, mode.game_mode, prop.players, match_id, now)
            if got is None:
                unplaced.append((match_id, mode.name, prop.tickets))
            else:
                placed.append((match_id, prop, got))
        report.no_server += len(unplaced)
        items = []
        for match_id, prop, server in placed:
            items.append((match_id, prop, assignment(mode, match_id, server,
                                                     room_claim(mode, prop, secrets.randbelow(2**31)), now)))
        assigned = await self.queue.assign(items, now)
        for ok, (match_id, prop, server) in zip(assigned, placed, strict=True):
            if ok:
                report.matches += 1
                report.players += prop.players
                report.waits.append((mode.name, prop.oldest_wait_ms / 1000))
            else:  # a ticket was cancelled while the match was forming: the match is dropped whole
                report.lost_races += 1
                await self.registry.release(server.server_id, match_id)
                unplaced.append((match_id, mode.name, prop.tickets))
        await self.queue.release(unplaced)

    async def allocate(self, mode: ModeConfig, match_id: str, region: str, roster: Sequence[tuple[str, int]],
                       options: Mapping[str, Any] | None, now_ms: int,
                       accepts: Callable[[LiveServer], bool] | None = None) -> dict[str, Any] | None:
        """One match placed outside a matching pass (a custom game): the same server choice and
        atomic seat claim as :meth:`_form`, among the live servers that host ``mode`` (and that
        ``accepts``). The assignment, or None when no server in ``region`` has room."""
        servers = [s for s in await self.registry.live(now_ms)
                   if self.hosts(s, mode) and (accepts is None or accepts(s))]
        server = await (self.allocator or self.registry).place(servers, region, mode.game_mode, len(roster),
                                                               match_id, now_ms)
        if server is None:
            return None
        return assignment(mode, match_id, server, room_for(mode, roster, secrets.randbelow(2**31), options), now_ms)

    async def run(self, stop: asyncio.Event, interval_s: float) -> None:
        while not stop.is_set():
            try:
                report = await self.run_pass()
                if report.matches:
                    log.info("matches formed", extra={"matches": report.matches, "players": report.players,
                                                      "lost_races": report.lost_races})
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("matching pass failed: redis", extra={"error": str(exc)})
            except Exception:
                log.exception("matching pass failed")
            try:
                await asyncio.wait_for(stop.wait(), interval_s)
            except TimeoutError:
                pass
