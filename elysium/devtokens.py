"""Development join tokens, minted from a local key so bots and load tests need no matchmaker."""

from __future__ import annotations

from typing import Any

from elysium import tokens

DEV_ISSUER = tokens.DEV_ISSUER


def room_claim(mode: str = "arena", seats: int = 10, *, teams: int = 0, roster: list[Any] | None = None,
               min_players: int | None = None, score_limit: int | None = None, time_limit_s: float | None = None,
               seed: int | None = None, tick_hz: int | None = None) -> dict[str, Any]:
    room: dict[str, Any] = {"mode": mode, "seats": seats, "teams": teams}
    for name, value in (("roster", roster), ("min_players", min_players), ("score_limit", score_limit),
                        ("time_limit_s", time_limit_s), ("seed", seed), ("tick_hz", tick_hz)):
        if value is not None:
            room[name] = value
    return room


def mint_join(signer: tokens.Signer, *, match_id: str, player_id: str, server_id: str, room: dict[str, Any],
              name: str | None = None, ttl_s: float = 60.0) -> str:
    claims: dict[str, Any] = {"mid": match_id, "srv": server_id, "room": room}
    if name:
        claims["name"] = name
    return signer.issue(player_id, tokens.JOIN_AUDIENCE, ttl_s, claims)
