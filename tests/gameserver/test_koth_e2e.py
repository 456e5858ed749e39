"""King of the hill end to end: four players queue in the matchmaker, play a match on a real game
server (the bots' own steering on one team), spectators watch it live and as a replay through
the relay, commerce pays the rewards and the matchmaker moves the ratings."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from commerce.appkeys import STORE
from gameserver.bots import HillBot
from gameserver.client import GameClient
from matchmaker.modes import ModeConfig
from spectator.client import SpectatorClient
from tests.commerce.conftest import client, client_for, register, settings  # noqa: F401 (fixtures)
from tests.matchmaker.conftest import auth, mm_factory, mm_settings, player_token  # noqa: F401 (fixtures)
from tests.gameserver.conftest import SERVER_ID, cleanup_servers, server_factory  # noqa: F401 (fixtures)
from tests.spectator.conftest import record, relay, relay_factory, state_of, watch_url  # noqa: F401 (fixtures)
from tests.waiting import until

KOTH = ModeConfig("koth", game_mode="koth", teams=2, team_size=2, min_players=4, max_players=4, score_limit=8,
                  time_limit_s=40.0, start_timeout_s=15.0)


async def _matched(mm: Any, auth: Any, player: str, ticket: str) -> dict[str, Any]:
    async def view() -> dict[str, Any] | None:
        body: dict[str, Any] = await (await mm.get(f"/v1/tickets/{ticket}", headers=auth(player))).json()
        return body["match"] if body["status"] == "matched" else None

    return await until(view, timeout_s=20, interval_s=0.05, what=f"{player}'s match")


async def _play(client: GameClient, active: bool, states: dict[int, dict[str, Any]]) -> None:
    """Read every frame until the end; an active player steers with the bots' HillBot each tick."""
    bot = HillBot(client.welcome, random.Random(client.welcome["player"]))
    seat = client.welcome["player"]
    while client.result is None:
        msg = await client.recv(timeout=15)
        record(states, client.replica, msg)
        if active and msg["t"] == "delta":
            me = client.player_row(seat)
            if me is not None:
                enemies = [r for s in client.replica.players
                           if (r := client.player_row(s)) is not None and r["team"] != me["team"]]
                hills = client.objects_named()
                await client.send_row(*bot.steer(me, enemies, hills[-1] if hills else None))


async def test_a_koth_match_through_matchmaker_server_relay_and_rewards(
        server_factory: Any, cleanup_servers: Any, mm_factory: Any, auth: Any, relay: Any,  # noqa: F811
        client: Any) -> None:  # noqa: F811
    game = await server_factory()
    mm = await mm_factory(run_loops=True, modes=[KOTH])
    accounts = [await register(client) for _ in range(4)]
    players = [a["account_id"] for a in accounts]
    tickets = {}
    for player in players:
        resp = await mm.post("/v1/tickets", json={"mode": "koth", "regions": {"local": 10}}, headers=auth(player))
        assert resp.status == 201, await resp.text()
        tickets[player] = (await resp.json())["id"]
    matches = {p: await _matched(mm, auth, p, tickets[p]) for p in players}
    match_id = matches[players[0]]["match_id"]
    assert {m["match_id"] for m in matches.values()} == {match_id} and match_id.startswith("koth.")
    assert all(m["server_id"] == SERVER_ID == game.server_id for m in matches.values())

    clients = {p: GameClient(matches[p]["address"]) for p in players}
    welcomes = {p: await clients[p].join(matches[p]["join_token"]) for p in players}
    for w in welcomes.values():
        assert w["t"] == "welcome" and w["mode"] == "koth" and w["teams"] == 2 and w["seats"] == 4
        assert w["columns"]["player"][:3] == ["x_cm", "y_cm", "stamina"] and w["columns"]["object"][0] == "id"
        assert w["map"]["score_limit"] == 8
    teams = {p: w["team"] for p, w in welcomes.items()}
    assert sorted(teams.values()) == [0, 0, 1, 1]  # the matchmaker split them 2 against 2

    # A spectator is in from the start (the room is described as soon as the first player joined).
    live = SpectatorClient(watch_url(relay, match_id))
    live_states: dict[int, dict[str, Any]] = {}
    await live.connect()
    watching = asyncio.create_task(live.watch_until_closed(60, lambda s, m: record(live_states, s.replica, m)))

    # Team 0 plays the hill the bots' way; team 1 stands at its spawn.
    states: dict[str, dict[int, dict[str, Any]]] = {p: {} for p in players}
    await asyncio.wait_for(asyncio.gather(*(_play(clients[p], teams[p] == 0, states[p]) for p in players)), 60)
    await asyncio.wait_for(watching, 30)

    result = clients[players[0]].result
    assert result is not None and all(c.result == result for c in clients.values())
    assert result["reason"] == "score"
    rows = {r["player_id"]: r for r in result["results"]}
    winners = {p for p in players if teams[p] == 0}
    assert sum(rows[p]["score"] for p in winners) >= 8
    assert all(rows[p]["score"] == 0 and rows[p]["captures"] == 0 for p in players if p not in winners)
    assert all(rows[p]["captures"] >= 1 for p in winners)
    final = max(states[players[0]])
    hill = max(states[players[0]][final]["objects"].values(), key=lambda row: row[0])
    assert hill[4] == 0  # the hill's owner column: team 0 holds it at the end
    # Every player's replica agrees, and so does the live spectator's.
    assert all(states[p][final]["players"] == states[players[0]][final]["players"] for p in players)
    assert live.hello["mode"] == "koth" and live.hello["columns"]["object"][0] == "id"
    assert live.hello["input"]["row"] == ["seq", "move_x", "move_y", "sprint", "shove"]
    assert live.hello["options"]["score_limit"] == 8
    assert live.end is not None and live.end["results"] == result["results"]
    assert state_of(live.replica)["players"] == states[players[0]][final]["players"]
    assert state_of(live.replica)["objects"] == states[players[0]][final]["objects"]

    # A replay after the end rebuilds the same match, at 8x.
    replay = SpectatorClient(watch_url(relay, match_id, "speed=8"))
    replayed: dict[int, dict[str, Any]] = {}
    await replay.connect()
    await replay.watch_until_closed(40, lambda s, m: record(replayed, s.replica, m))
    assert replay.hello["live"] is False and replay.end is not None and replay.end["results"] == result["results"]
    common = sorted(set(replayed) & set(states[players[0]]))
    assert len(common) > 100
    for tick in common[-50:]:
        assert replayed[tick]["players"] == states[players[0]][tick]["players"], tick
        assert replayed[tick]["objects"] == states[players[0]][tick]["objects"], tick

    # Commerce pays by the koth rules: 10 for playing, 1 a point, 25 to each winner.
    store = client.app[STORE]

    async def paid() -> dict[str, int] | None:
        found = {r["player_id"]: r["amount"] async for r in store.rewards.find({"match_id": match_id})}
        return found if len(found) == 4 else None

    amounts = await until(paid, timeout_s=20, interval_s=0.1, what="the rewards")
    for p in players:
        assert amounts[p] == 10 + rows[p]["score"] + (25 if p in winners else 0), p
    # And the matchmaker rated the match: the winners gained.
    ratings: dict[str, Any] = {}

    async def rated() -> dict[str, Any] | None:
        got = {p: (await (await mm.get("/v1/players/me/ratings", headers=auth(p))).json())["ratings"].get("koth")
               for p in players}
        return got if all(r and r["matches"] == 1 for r in got.values()) else None

    ratings = await until(rated, timeout_s=20, interval_s=0.1, what="the ratings")
    assert all(ratings[p]["mu"] > ratings[q]["mu"] for p in winners for q in players if q not in winners)
    for c in clients.values():
        await c.close()
