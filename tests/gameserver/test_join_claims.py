"""Join-token claims a game server checks beyond the signature: issuer (iss) and match id (mid)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import jwt

from elysium import devtokens, tokens
from elysium.ws import play
from gameserver import protocol as p
from gameserver.server import GameServer
from tests.gameserver.conftest import SERVER_ID
from tests.gameserver.rawclient import RawClient


def raw_join_token(keys_dir: Path, **overrides: Any) -> str:
    """A join token signed with the right key, with claims set (or removed, when None) by hand."""
    now = int(time.time())
    body: dict[str, Any] = {"iss": tokens.DEV_ISSUER, "sub": "p1", "aud": tokens.JOIN_AUDIENCE, "iat": now,
                            "exp": now + 30, "jti": uuid.uuid4().hex, "mid": "m1", "srv": SERVER_ID,
                            "room": devtokens.room_claim(seats=2)}
    body.update(overrides)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, tokens.load_private_key(path=str(keys_dir / "join.key")), algorithm=tokens.ALGORITHM)


async def refusal(server: GameServer, token: str) -> dict[str, Any]:
    c = await RawClient.open(server.port)
    try:
        c.send(play.encode_join(token=token))
        return await c.recv_msg("error")
    finally:
        c.close()


async def test_a_token_without_iss_is_refused(game_server: GameServer, keys_dir: Path) -> None:
    error = await refusal(game_server, raw_join_token(keys_dir, iss=None))
    assert error["code"] == p.TOKEN_REJECTED and "iss" in error["msg"]


async def test_a_token_from_an_unknown_issuer_is_refused(game_server: GameServer, keys_dir: Path) -> None:
    error = await refusal(game_server, raw_join_token(keys_dir, iss="someone-else"))
    assert error["code"] == p.TOKEN_REJECTED and "token_issuer" in error["msg"]


async def test_accepted_issuers_are_configurable(server_factory: Any, keys_dir: Path, cleanup_servers: None) -> None:
    server = await server_factory(join_issuers="studio-matchmaker")
    assert (await refusal(server, raw_join_token(keys_dir)))["code"] == p.TOKEN_REJECTED
    c = await RawClient.open(server.port)
    c.send(play.encode_join(token=raw_join_token(keys_dir, iss="studio-matchmaker")))
    assert (await c.recv_msg())["t"] == "welcome"
    c.close()


async def test_a_long_match_id_gets_an_error_that_says_so(game_server: GameServer, keys_dir: Path) -> None:
    error = await refusal(game_server, raw_join_token(keys_dir, mid="m" * 65))
    assert error["code"] == p.TOKEN_REJECTED and "longer than 64" in error["msg"]
    error = await refusal(game_server, raw_join_token(keys_dir, mid=None))
    assert error["code"] == p.TOKEN_REJECTED and "lacks a match id" in error["msg"]
