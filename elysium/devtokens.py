"""Development join tokens, minted from a local key so bots and load tests need no matchmaker."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from elysium import tokens

DEV_ISSUER = tokens.DEV_ISSUER


def dev_key_file(name: str) -> Path:
    """Where ``elysium up`` keeps the development private key ``name`` (``join``, ``service``):
    ``keys/NAME.key`` in its state directory (``ELYSIUM_STATE_DIR``, default ``.elysium``)."""
    return Path(os.environ.get("ELYSIUM_STATE_DIR") or ".elysium") / "keys" / f"{name}.key"


def signing_key(given: str | None, env_var: str, name: str) -> Ed25519PrivateKey:
    """The private key a command signs with: ``--key-file`` (``given``), else the file ``env_var``
    names, else the development key of ``elysium up`` when it exists. The error names all three."""
    for path, source in ((given, "--key-file"), (os.environ.get(env_var), env_var)):
        if path:
            try:
                return tokens.load_private_key(path=path)
            except tokens.KeyError_ as exc:
                raise tokens.KeyError_(f"{exc} (from {source})") from None
    dev = dev_key_file(name)
    if dev.is_file():
        return tokens.load_private_key(path=str(dev))
    raise tokens.KeyError_(f"no {name} private key: give --key-file or set {env_var} "
                           f"(elysium up creates {dev} on its first start)")


def room_claim(mode: str = "arena", seats: int = 10, *, teams: int = 0, roster: list[Any] | None = None,
               min_players: int | None = None, score_limit: int | None = None, time_limit_s: float | None = None,
               seed: int | None = None, tick_hz: int | None = None,
               options: dict[str, Any] | None = None) -> dict[str, Any]:
    room: dict[str, Any] = {"mode": mode, "seats": seats, "teams": teams}
    if options is not None:
        room["options"] = options
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
