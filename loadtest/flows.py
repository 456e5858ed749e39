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

from elysium import tokens
from gameserver import devtokens
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
                 room_size: int, ramp_per_s: float, duration_s: float, tick_hz: int | None, seed: int) -> None:
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
        self.time_limit_s = min(3600.0, players / ramp_per_s + duration_s + 120.0)

    def match_of(self, index: int) -> tuple[str, int]:
        k = index // self.room_size
        seats = min(self.room_size, self.players - k * self.room_size)
        return f"lt-{self.run_id}-{k}", seats

    def room(self, index: int) -> dict[str, Any]:
        match_id, seats = self.match_of(index)
        return devtokens.room_claim("arena", seats, min_players=seats, score_limit=1000,
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


def full_flow_missing(commerce_url: str | None, matchmaker_url: str | None) -> str | None:
    """Why the full flow cannot run against these addresses, or None when it can."""
    missing = [name for name, url in (("commerce", commerce_url), ("matchmaker", matchmaker_url)) if not url]
    if missing:
        return (f"the full flow needs {' and '.join(missing)} (give --{missing[0]}-url, or run it against a "
                f"local stack that includes {' and '.join(missing)})")
    return "the full flow (register, queue, join) is not available in this version of the load tester"


def make_flow(config: dict[str, Any]) -> JoinFlow:
    """Build the flow a worker uses from the runner's plain-data configuration."""
    if config["flow"] == "direct":
        signer = tokens.Signer(tokens.load_private_key(path=config["join_key_file"]), devtokens.DEV_ISSUER)
        return DirectFlow(url=config["url"], server_id=config["server_id"], signer=signer, run_id=config["run_id"],
                          players=config["players"], room_size=config["room_size"],
                          ramp_per_s=config["ramp_per_s"], duration_s=config["duration_s"],
                          tick_hz=config["tick_hz"], seed=config["seed"])
    raise FlowUnavailable(full_flow_missing(config.get("commerce_url"), config.get("matchmaker_url")) or "")
