"""How a simulated player gets a seat: the flow behind one small interface.

``direct``: the load tester mints development join tokens with a local join key and sends
consecutive players to the same match until it is full (no matchmaker involved).
``full``: register or log in at commerce, queue at the matchmaker, join with the token it
assigns. The full flow needs both services; :func:`make_flow` says clearly when they are
missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from elysium import devtokens, tokens
from loadtest.errors import FlowUnavailable


@dataclass(frozen=True, slots=True)
class Assignment:
    url: str  # game server websocket URL
    token: str  # join token
    match_id: str
    player_id: str
    waited_us: int | None = None  # time to match (full flow only)


class JoinFlow(Protocol):
    name: str

    async def assign(self, index: int) -> Assignment:
        """A seat for simulated player ``index`` (raises on failure)."""
        ...

    async def close(self) -> None: ...


class DirectFlow:
    """Development join tokens: players ``k*room_size .. (k+1)*room_size-1`` share match ``k``."""

    name = "direct"

    def __init__(self, *, url: str, server_id: str, signer: tokens.Signer, run_id: str, players: int,
                 room_size: int, ramp_per_s: float, duration_s: float, tick_hz: int | None, seed: int,
                 mode: str = "arena", teams: int = 0) -> None:
        self.mode = mode
        self.teams = teams
        self.url = url
        self.server_id = server_id
        self.signer = signer
        self.run_id = run_id
        self.players = players
        self.room_size = room_size
        self.tick_hz = tick_hz
        self.seed = seed
        fill_s = room_size / ramp_per_s
        # Long enough to fill the room (with retries), and to outlast the run: matches
        # should not end under the load test unless the server ends them.
        self.start_timeout_s = min(600.0, 30.0 + 3 * fill_s)
        self.time_limit_s = min(3600.0, players / ramp_per_s + duration_s + 10.0)

    def match_of(self, index: int) -> tuple[str, int]:
        k = index // self.room_size
        seats = min(self.room_size, self.players - k * self.room_size)
        return f"lt-{self.run_id}-{k}", seats

    def room(self, index: int) -> dict[str, Any]:
        match_id, seats = self.match_of(index)
        return devtokens.room_claim(self.mode, seats, teams=self.teams, min_players=seats, score_limit=1000,
                                    time_limit_s=math.floor(self.time_limit_s), seed=self.seed + index // self.room_size,
                                    tick_hz=self.tick_hz) | {"start_timeout_s": self.start_timeout_s}

    async def assign(self, index: int) -> Assignment:
        match_id, _ = self.match_of(index)
        player_id = f"lt-{self.run_id}-p{index}"
        token = devtokens.mint_join(self.signer, match_id=match_id, player_id=player_id, server_id=self.server_id,
                                    room=self.room(index), name=f"sim{index}", ttl_s=60.0)
        return Assignment(self.url, token, match_id, player_id)

    async def close(self) -> None:
        return None


class FlowError(Exception):
    """A step of the full flow failed; ``cause`` is a stable error cause for the report."""

    def __init__(self, cause: str, detail: str = "") -> None:
        super().__init__(detail or cause)
        self.cause = cause


class FullFlow:
    """Register (or log in) at commerce, queue at the matchmaker, wait for the match, join.

    Only the services' public HTTP APIs are used: ``POST /v1/accounts`` (``/v1/sessions``
    when the name is taken), ``POST /v1/tickets`` and ``GET /v1/tickets/{id}`` until the
    ticket is ``matched``; the ticket then carries the server address and a join token.
    """

    name = "full"
    POLL_S = 0.25

    def __init__(self, *, commerce_url: str, matchmaker_url: str, run_id: str, mode: str, region: str,
                 match_timeout_s: float, http_timeout_s: float = 30.0) -> None:
        import aiohttp

        self.commerce = commerce_url.rstrip("/")
        self.matchmaker = matchmaker_url.rstrip("/")
        self.run_id = run_id
        self.mode = mode
        self.region = region
        self.match_timeout_s = match_timeout_s
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=http_timeout_s),
                                             connector=aiohttp.TCPConnector(limit=200))
        self.tokens: dict[int, str] = {}

    async def _json(self, method: str, url: str, cause: str, *, body: Any = None,
                    token: str | None = None, ok: tuple[int, ...] = (200, 201)) -> tuple[int, dict[str, Any]]:
        import aiohttp

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            async with self.session.request(method, url, json=body, headers=headers) as resp:
                data = await resp.json(content_type=None)
                if resp.status not in ok:
                    problem = data.get("type", "") if isinstance(data, dict) else ""
                    raise FlowError(f"{cause}_{resp.status}", f"{method} {url}: {resp.status} {problem}")
                return resp.status, data if isinstance(data, dict) else {}
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise FlowError(f"{cause}_unreachable", f"{method} {url}: {type(exc).__name__}") from None

    async def _access_token(self, index: int) -> str:
        token = self.tokens.get(index)
        if token:
            return token
        username = f"lt{self.run_id}p{index}"
        password = f"load-{self.run_id}-{index}-pw"
        status, data = await self._json("POST", f"{self.commerce}/v1/accounts", "register",
                                        body={"username": username, "password": password,
                                              "display_name": f"sim{index}"}, ok=(201, 409))
        if status == 409:  # registered by an earlier attempt: log in
            _, data = await self._json("POST", f"{self.commerce}/v1/sessions", "login",
                                       body={"username": username, "password": password})
        token = str(data.get("access_token") or "")
        if not token:
            raise FlowError("register_no_token", "commerce answered without an access token")
        self.tokens[index] = token
        return token

    async def assign(self, index: int) -> Assignment:
        import asyncio
        import time

        token = await self._access_token(index)
        started = time.perf_counter_ns()
        _, ticket = await self._json("POST", f"{self.matchmaker}/v1/tickets", "queue", token=token,
                                     body={"mode": self.mode, "regions": {self.region: 1}})
        deadline = time.monotonic() + self.match_timeout_s
        url = f"{self.matchmaker}/v1/tickets/{ticket['id']}"
        try:
            while ticket.get("status") != "matched":
                if ticket.get("status") in ("cancelled", "expired"):
                    raise FlowError(f"ticket_{ticket['status']}", str(ticket.get("reason", "")))
                if time.monotonic() >= deadline:
                    raise FlowError("match_timeout", f"no match within {self.match_timeout_s:g} s")
                await asyncio.sleep(self.POLL_S)
                _, ticket = await self._json("GET", url, "ticket", token=token)
        except BaseException:
            # Leave no ticket behind: a stale one would be matched with other players later.
            try:
                await asyncio.shield(self._json("DELETE", url, "cancel", token=token, ok=(200, 204, 404, 409)))
            except (FlowError, asyncio.CancelledError):
                pass
            raise
        match = ticket["match"]
        waited = (time.perf_counter_ns() - started) // 1000
        return Assignment(match["address"], match["join_token"], match["match_id"], f"p{index}", waited)

    async def close(self) -> None:
        await self.session.close()


def full_flow_missing(commerce_url: str | None, matchmaker_url: str | None) -> str | None:
    """Why the full flow cannot run against these addresses, or None when it can."""
    missing = [name for name, url in (("commerce", commerce_url), ("matchmaker", matchmaker_url)) if not url]
    if missing:
        return (f"the full flow needs {' and '.join(missing)} (give --{missing[0]}-url, or run it against a "
                f"local stack that includes {' and '.join(missing)})")
    return None


def make_flow(config: dict[str, Any]) -> JoinFlow:
    """Build the flow a worker uses from the runner's plain-data configuration."""
    if config["flow"] == "direct":
        signer = tokens.Signer(tokens.load_private_key(path=config["join_key_file"]), devtokens.DEV_ISSUER)
        return DirectFlow(url=config["url"], server_id=config["server_id"], signer=signer, run_id=config["run_id"],
                          players=config["players"], room_size=config["room_size"],
                          ramp_per_s=config["ramp_per_s"], duration_s=config["duration_s"],
                          tick_hz=config["tick_hz"], seed=config["seed"], mode=config.get("mode", "arena"),
                          teams=config.get("teams", 0))
    missing = full_flow_missing(config.get("commerce_url"), config.get("matchmaker_url"))
    if missing:
        raise FlowUnavailable(missing)
    return FullFlow(commerce_url=config["commerce_url"], matchmaker_url=config["matchmaker_url"],
                    run_id=config["run_id"], mode=config.get("mode", "arena"), region=config.get("region", "local"),
                    match_timeout_s=config.get("match_timeout_s", 60.0))
