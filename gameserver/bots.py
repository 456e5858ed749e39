"""Demo bots: a few simulated players that keep a live match going on a local server."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import socket
from collections.abc import Callable, Iterable
from typing import Any

from websockets.exceptions import WebSocketException

from gameserver.client import GameClient

log = logging.getLogger("gameserver.bots")


def steer(me: list[int], others: list[list[int]], rng: random.Random, waypoint: list[float]) -> tuple[float, float, float, bool]:
    """Pick an input: walk to a waypoint, aim at the nearest rival, fire when one is close."""
    x, y = me[0] / 100.0, me[1] / 100.0
    if math.hypot(waypoint[0] - x, waypoint[1] - y) < 2.0:
        waypoint[0], waypoint[1] = rng.uniform(4, 60), rng.uniform(4, 60)
    heading = math.atan2(waypoint[1] - y, waypoint[0] - x)
    aim, fire = heading, False
    if others:
        ox, oy = min(((o[0] / 100.0, o[1] / 100.0) for o in others), key=lambda o: math.hypot(o[0] - x, o[1] - y))
        aim = math.atan2(oy - y, ox - x)
        fire = math.hypot(ox - x, oy - y) < 20.0
    return math.cos(heading), math.sin(heading), aim, fire


class HillBot:
    """King of the hill (docs/modes-koth.md): make for a spot on the hill, sprint there when far
    and rested, shove the enemies in reach. Reads rows by the column names of the welcome."""

    SPRINT_FROM_M = 6.0  # sprint when the spot is further than this
    SPRINT_ABOVE = 40  # and stamina is above this

    def __init__(self, welcome: dict[str, Any], rng: random.Random) -> None:
        info = welcome["map"]
        self.rng = rng
        self.reach_m = info["shove_range_cm"] / 100.0 * 0.9
        self.hill_r_m = info["hill_radius_cm"] / 100.0
        self.centre = (info["width_cm"] / 200.0, info["height_cm"] / 200.0)
        self.spot: tuple[float, float] = self.centre
        self.hill_at: tuple[int, int] | None = None
        # The obstacles grown by the player's radius (a path crossing one is blocked) and, a
        # little further out, the corners a bot walks round them by.
        r = info["player_radius_cm"] / 100.0
        boxes = [[v / 100.0 for v in box] for box in info["obstacles_cm"]]
        self.blocks = [(x0 - r, y0 - r, x1 + r, y1 + r) for x0, y0, x1, y1 in boxes]
        out = r + 0.6
        self.corners = [[(x0 - out, y0 - out), (x1 + out, y0 - out), (x0 - out, y1 + out), (x1 + out, y1 + out)]
                        for x0, y0, x1, y1 in boxes]
        self.detour: tuple[float, float] | None = None  # the corner being walked to
        self.passed: set[tuple[float, float]] = set()  # corners reached on the way to this spot

    def steer(self, me: dict[str, int], enemies: list[dict[str, int]],
              hill: dict[str, int] | None) -> tuple[float, float, bool, bool]:
        """(move_x, move_y, sprint, shove) for this tick."""
        if hill is not None and (hill["x_cm"], hill["y_cm"]) != self.hill_at:
            # A new site: pick a spot of its own on the hill, so the team spreads over it.
            self.hill_at = (hill["x_cm"], hill["y_cm"])
            angle, r = self.rng.uniform(-math.pi, math.pi), self.rng.uniform(0.0, self.hill_r_m * 0.6)
            self.spot = (hill["x_cm"] / 100.0 + r * math.cos(angle), hill["y_cm"] / 100.0 + r * math.sin(angle))
            self.detour, self.passed = None, set()
        x, y = me["x_cm"] / 100.0, me["y_cm"] / 100.0
        tx, ty = self.waypoint(x, y)
        dx, dy = tx - x, ty - y
        dist = math.hypot(dx, dy)
        # Each axis within the schema's -1..1, rounding included.
        mx, my = (max(-1.0, min(1.0, dx / dist)), max(-1.0, min(1.0, dy / dist))) if dist > 0.2 else (0.0, 0.0)
        far = math.hypot(self.spot[0] - x, self.spot[1] - y)
        sprint = far > self.SPRINT_FROM_M and me["stamina"] > self.SPRINT_ABOVE
        shove = any(not e["stunned"] and math.hypot(e["x_cm"] / 100.0 - x, e["y_cm"] / 100.0 - y) <= self.reach_m
                    for e in enemies)
        return mx, my, sprint, shove

    def waypoint(self, x: float, y: float) -> tuple[float, float]:
        """Where to head now: the spot, or round a corner of the first obstacle in the way (kept
        until reached, and not taken twice on the way to one spot)."""
        if self.detour is not None and math.hypot(self.detour[0] - x, self.detour[1] - y) < 0.4:
            self.passed.add(self.detour)
            self.detour = None
        if not any(_crosses((x, y), self.spot, block) for block in self.blocks):
            self.detour = None
            return self.spot
        if self.detour is not None:
            return self.detour
        for block, corners in zip(self.blocks, self.corners):
            if _crosses((x, y), self.spot, block):
                clear = [c for c in corners if c not in self.passed
                         and not any(_crosses((x, y), c, b) for b in self.blocks)]
                if clear:
                    self.detour = min(clear, key=lambda c: math.hypot(c[0] - x, c[1] - y)
                                      + math.hypot(self.spot[0] - c[0], self.spot[1] - c[1]))
                    return self.detour
        return self.spot


def _crosses(a: tuple[float, float], b: tuple[float, float], box: tuple[float, float, float, float]) -> bool:
    """Whether the segment a-b passes through the inside of the box (the slab test)."""
    lo, hi = 0.0, 1.0
    for start, delta, low, high in ((a[0], b[0] - a[0], box[0], box[2]), (a[1], b[1] - a[1], box[1], box[3])):
        if abs(delta) < 1e-12:
            if not low < start < high:
                return False
            continue
        t0, t1 = sorted(((low - start) / delta, (high - start) / delta))
        lo, hi = max(lo, t0), min(hi, t1)
        if lo >= hi:
            return False
    return True


CARD_RANKS = 8  # cards: a card is suit * 8 + rank (docs/modes-cards.md)
HAND, TABLE, TRUMP = 1, 2, 3  # cards: object kinds


def pick_card(seat: int, objects: Iterable[list[int]]) -> int | None:
    """Cards: the card to play from what ``seat`` sees (object rows ``[id, kind, owner, card, order]``).

    Follow suit when possible; win the trick as cheaply as possible, else throw the lowest
    card; lead the highest. None when the seat holds nothing.
    """
    rows = list(objects)
    hand = sorted(row[3] for row in rows if row[1] == HAND and row[2] == seat)
    if not hand:
        return None
    table = [row[3] for row in sorted((row for row in rows if row[1] == TABLE), key=lambda row: row[4])]
    trumps = [row[3] // CARD_RANKS for row in rows if row[1] == TRUMP]
    trump = trumps[0] if trumps else -1
    if not table:
        return max(hand, key=lambda c: (c % CARD_RANKS, c // CARD_RANKS))
    led = table[0] // CARD_RANKS
    legal = [c for c in hand if c // CARD_RANKS == led] or hand

    def strength(card: int) -> tuple[int, int]:
        suit = card // CARD_RANKS
        return (2 if suit == trump else 1 if suit == led else 0, card % CARD_RANKS)

    best = max(strength(c) for c in table)
    winners = [c for c in legal if strength(c) > best]
    if winners:
        return min(winners, key=strength)
    return min(legal, key=lambda c: (c % CARD_RANKS, c // CARD_RANKS))


async def play_cards(client: GameClient, stop: asyncio.Event) -> None:
    """Cards: play a card once on each of this seat's turns until the match ends or ``stop`` is set."""
    tick_s = 1.0 / client.welcome["tick_hz"]
    me_seat = client.welcome["player"]
    names = [c if isinstance(c, str) else c["name"] for c in client.welcome["columns"]["player"]]
    deadline_col = names.index("deadline")
    played_for = 0  # the turn (its deadline tick) a card was sent for

    async def reader() -> None:
        while client.result is None:
            await client.recv(timeout=30.0)

    reading = asyncio.create_task(reader())
    try:
        while not stop.is_set() and not reading.done():
            me = client.replica.players.get(me_seat)
            if me is not None and me[deadline_col] > 0 and me[deadline_col] != played_for:
                card = pick_card(me_seat, client.replica.objects.values())
                if card is not None:
                    played_for = me[deadline_col]
                    await client.send_row(card)
            await asyncio.sleep(tick_s)
    finally:
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)


async def play(client: GameClient, rng: random.Random, stop: asyncio.Event) -> None:
    """Send one input per tick until the match ends or ``stop`` is set, by the mode's own rules
    (cards: one move per turn)."""
    if client.welcome.get("mode") == "koth":
        await play_hill(client, rng, stop)
        return
    if client.welcome.get("mode") == "cards":
        await play_cards(client, stop)
        return
    tick_s = 1.0 / client.welcome["tick_hz"]
    me_seat = client.welcome["player"]
    waypoint = [rng.uniform(4, 60), rng.uniform(4, 60)]

    async def reader() -> None:
        while client.result is None:
            await client.recv(timeout=30.0)

    reading = asyncio.create_task(reader())
    try:
        while not stop.is_set() and not reading.done():
            players = client.replica.players
            me = players.get(me_seat)
            if me is not None:
                others = [row for seat, row in players.items() if seat != me_seat and row[4]]
                await client.send_input(*steer(me, others, rng, waypoint))
            await asyncio.sleep(tick_s)
    finally:
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)


async def play_hill(client: GameClient, rng: random.Random, stop: asyncio.Event) -> None:
    tick_s = 1.0 / client.welcome["tick_hz"]
    me_seat = client.welcome["player"]
    bot = HillBot(client.welcome, rng)

    async def reader() -> None:
        while client.result is None:
            await client.recv(timeout=30.0)

    reading = asyncio.create_task(reader())
    try:
        while not stop.is_set() and not reading.done():
            me = client.player_row(me_seat)
            if me is not None:
                enemies = [row for seat in client.replica.players
                           if (row := client.player_row(seat)) is not None and row["team"] != me["team"]]
                hills = client.objects_named()
                await client.send_row(*bot.steer(me, enemies, hills[-1] if hills else None))
            await asyncio.sleep(tick_s)
    finally:
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)


class BotsGaveUp(Exception):
    """The bots failed to join ``max_failures`` times in a row; the message says the last cause."""


RETRY_S = 1.0  # pause after a failed attempt


def _cause(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, socket.gaierror) and exc.strerror:
        return f"cannot resolve the host: {exc.strerror.lower()}"
    if isinstance(exc, OSError) and exc.errno and exc.errno > 0:
        return os.strerror(exc.errno).lower()  # "connection refused", not "Connect call failed (...)"
    return str(exc) or type(exc).__name__


async def run_bots(url: str, count: int, token_for: Callable[[str, int], str], stop: asyncio.Event,
                   seed: int = 1, *, max_failures: int = 0, on_failure: Callable[[str], None] | None = None) -> None:
    """Keep ``count`` bots playing match after match until ``stop`` is set.

    A round in which a bot cannot connect or join is a failure: ``on_failure`` hears why, and
    after ``max_failures`` in a row (0: never) :class:`BotsGaveUp` is raised. A round in which
    every bot joined starts the count again, however it ended.
    """
    round_no = 0
    failures = 0
    while not stop.is_set():
        round_no += 1
        clients = [GameClient(url) for _ in range(count)]
        joined = False
        try:
            for i, client in enumerate(clients):
                welcome = await client.join(token_for(f"bot-{i + 1}", round_no))
                if welcome["t"] != "welcome":
                    raise RuntimeError(f"the server refused the join: {welcome.get('code')}: "
                                       f"{welcome.get('msg', '')}")
            joined = True
            failures = 0
            log.info("bots joined", extra={"match": clients[0].welcome["match"], "bots": count})
            await asyncio.gather(*(play(c, random.Random(seed * 1000 + i + round_no), stop)
                                   for i, c in enumerate(clients)))
        except (OSError, WebSocketException, RuntimeError, TimeoutError) as exc:
            if joined:
                log.warning("bots lost their match; starting another", extra={"error": _cause(exc)})
            else:
                failures += 1
                reason = f"cannot play on {url}: {_cause(exc)}"
                if max_failures and failures >= max_failures:
                    raise BotsGaveUp(f"giving up after {failures} failed attempt{'s' if failures > 1 else ''}: "
                                     f"{reason}") from None
                if on_failure is not None:
                    of = f" of {max_failures}" if max_failures else ""
                    on_failure(f"{reason}; retrying in {RETRY_S:g} s (failure {failures}{of})")
            await asyncio.sleep(RETRY_S)
        finally:
            await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
