"""The game server's admin API over its own HTTP port: rooms with players and lateness, and the kick
(the player gets ``error`` ``kicked`` and a close 1008, the seat is freed), behind the gameserver:admin scope."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from websockets.exceptions import ConnectionClosed

from elysium import tokens
from elysium.ws import frames, play
from gameserver import protocol as p
from gameserver.client import GameClient
from gameserver.room import MatchId
from gameserver.server import GameServer
from tests.gameserver.conftest import url
from tests.waiting import until


def bearer(keys_dir: Path, scope: str = "gameserver:admin") -> dict[str, str]:
    signer = tokens.Signer(tokens.load_private_key(path=str(keys_dir / "service.key")), "elysium-cli")
    return {"Authorization": f"Bearer {signer.issue('op-ada', tokens.SERVICE_AUDIENCE, 60.0, {'scope': scope})}"}


@pytest.fixture
async def admin_server(server_factory: Any, keys_dir: Path, cleanup_servers: None) -> GameServer:
    server: GameServer = await server_factory(service_public_key_file=str(keys_dir / "service.pub"))
    return server


def base(server: GameServer) -> str:
    return f"http://127.0.0.1:{server.port}"


async def test_rooms_list_players_and_a_kick_removes_one(admin_server: GameServer, mint: Any, keys_dir: Path) -> None:
    rude, fair = GameClient(url(admin_server)), GameClient(url(admin_server))
    welcome = await rude.join(mint("rude", "m-kick", seats=2))
    await fair.join(mint("fair", "m-kick", seats=2))
    room = admin_server.rooms[MatchId("m-kick")]
    await until(lambda: room.state.value == "running", what="the match running")
    async with aiohttp.ClientSession() as http:
        resp = await http.get(base(admin_server) + "/v1/admin/rooms", headers=bearer(keys_dir))
        assert resp.status == 200
        body = await resp.json()
        assert body["server_id"] == admin_server.server_id
        (listed,) = [r for r in body["rooms"] if r["match_id"] == "m-kick"]
        assert listed["state"] == "running" and listed["mode"] and listed["tick"] >= 0 and listed["late_ticks"] >= 0
        players = {pl["player_id"]: pl for pl in listed["players"]}
        assert set(players) == {"rude", "fair"}
        assert players["rude"]["connected"] is True and players["rude"]["seat"] == 0
        assert "inputs_waiting" in players["rude"] and players["rude"]["send_backlog_bytes"] >= 0

        kick = await http.post(base(admin_server) + "/v1/admin/rooms/m-kick/players/rude/kick",
                               json={"reason": "abusive names"}, headers=bearer(keys_dir))
        assert kick.status == 200, await kick.text()
        done = await kick.json()
        assert done == {**done, "match_id": "m-kick", "player_id": "rude", "seat": 0, "reason": "abusive names",
                        "by": "op-ada"}

        error = await rude.expect("error", timeout=5)
        assert error["code"] == play.KICKED == "kicked" and error["msg"] == "abusive names"
        with pytest.raises(ConnectionClosed) as closed:
            await rude.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == frames.CLOSE_POLICY
        assert "rude" not in room.by_player and "fair" in room.by_player

        async def fair_told() -> bool:
            await fair.recv(timeout=2)
            return any(e["k"] == "leave" and e.get("reason") == "kicked" for e in fair.events)

        await until(fair_told, what="the other player seeing the leave")
        back = GameClient(url(admin_server))
        refused = await back.join(resume=welcome["resume"])  # the seat is gone, not held
        assert refused["t"] == "error" and refused["code"] == p.RESUME_REJECTED
        # Kicking again: the player holds no seat any more.
        again = await http.post(base(admin_server) + "/v1/admin/rooms/m-kick/players/rude/kick",
                                json={"reason": "again"}, headers=bearer(keys_dir))
        assert again.status == 404 and (await again.json())["code"] == "unknown-player"
        await asyncio.gather(fair.close(), back.close())


async def test_bad_kicks_change_nothing(admin_server: GameServer, mint: Any, keys_dir: Path) -> None:
    c = GameClient(url(admin_server))
    await c.join(mint("pat", "m-bad", seats=2))
    room = admin_server.rooms[MatchId("m-bad")]
    kick = base(admin_server) + "/v1/admin/rooms/m-bad/players/pat/kick"
    async with aiohttp.ClientSession() as http:
        cases: list[tuple[dict[str, Any], int, str]] = [
            ({"data": b"{}", "headers": {**bearer(keys_dir), "Content-Type": "application/json"}}, 400,
             "invalid-request"),
            ({"data": b"not json", "headers": bearer(keys_dir)}, 400, "invalid-json"),
            ({"json": {"reason": "x" * 201}, "headers": bearer(keys_dir)}, 400, "invalid-request"),
            ({"json": {"reason": "ok\u0007"}, "headers": bearer(keys_dir)}, 400, "invalid-request"),
            ({"json": {"reason": "ok", "extra": 1}, "headers": bearer(keys_dir)}, 400, "invalid-request"),
            ({"data": b"x" * 5000, "headers": bearer(keys_dir)}, 413, "body-too-large"),
            ({"json": {"reason": "ok"}}, 401, "unauthorized"),
            ({"json": {"reason": "ok"}, "headers": {"Authorization": "Bearer nonsense"}}, 401, "invalid-token"),
            ({"json": {"reason": "ok"}, "headers": bearer(keys_dir, "commerce:admin")}, 403, "forbidden"),
        ]
        for kwargs, status, code in cases:
            resp = await http.post(kick, **kwargs)
            assert resp.status == status, (kwargs, await resp.text())
            assert resp.content_type == "application/problem+json" and (await resp.json())["code"] == code
        unknown = await http.post(base(admin_server) + "/v1/admin/rooms/nope/players/pat/kick",
                                  json={"reason": "ok"}, headers=bearer(keys_dir))
        assert unknown.status == 404 and (await unknown.json())["code"] == "unknown-match"
        wrong_method = await http.get(kick, headers=bearer(keys_dir))
        assert wrong_method.status == 405 and wrong_method.headers["Allow"] == "POST"
        delete = await http.delete(base(admin_server) + "/v1/admin/rooms", headers=bearer(keys_dir))
        assert delete.status == 405 and delete.headers["Allow"] == "GET"  # each path names its own method
        assert "pat" in room.by_player and room.by_player["pat"].connected  # type: ignore[index]
        # The plain probes still answer GET only.
        assert (await http.post(base(admin_server) + "/healthz", data=b"")).status == 405
        doc = await (await http.get(base(admin_server) + "/v1/openapi.json")).json()
        assert doc["paths"]["/v1/admin/rooms/{match_id}/players/{player_id}/kick"]["post"]["operationId"] == "kickPlayer"
    await c.close()


async def test_a_body_sent_in_pieces_is_read_whole(admin_server: GameServer, mint: Any, keys_dir: Path) -> None:
    c = GameClient(url(admin_server))
    await c.join(mint("slow", "m-slow", seats=2))
    body = json.dumps({"reason": "split body"}).encode()
    head = (f"POST /v1/admin/rooms/m-slow/players/slow/kick HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: {bearer(keys_dir)['Authorization']}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", admin_server.port)
    writer.write(head + body[:5])
    await writer.drain()
    await asyncio.sleep(0.05)  # the rest comes in a second segment
    writer.write(body[5:])
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200") and b'"reason":"split body"' in answer
    await c.close()


async def test_without_a_service_key_the_admin_api_is_off(game_server: GameServer, keys_dir: Path) -> None:
    async with aiohttp.ClientSession() as http:
        resp = await http.get(base(game_server) + "/v1/admin/rooms", headers=bearer(keys_dir))
        assert resp.status == 403 and (await resp.json())["code"] == "admin-disabled"
        anonymous = await http.get(base(game_server) + "/v1/admin/rooms")  # no token is 401 all the same
        assert anonymous.status == 401 and (await anonymous.json())["code"] == "unauthorized"
