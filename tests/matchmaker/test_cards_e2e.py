"""End to end, cards: three players queue, are matched onto a real game server, play a match
of the hidden-hands card game with the demo bots' behaviour, while a relay shows the delayed
full view live; then a replay, the rewards and the ratings. Every frame a player receives is
decoded and checked to hold no other player's hidden cards, and the server counts one encode
per distinct view, not per player."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from commerce.app import read_catalog
from commerce.settings import DEFAULT_CATALOG
from gameserver.bots import play
from gameserver.client import GameClient
from gameserver.modes import cards_rules as r
from matchmaker.modes import ModeConfig
from spectator.client import SpectatorClient
from tests.commerce.conftest import client_for, make_settings, register  # noqa: F401 (fixtures)
from tests.gameserver.conftest import cleanup_servers, server_factory  # noqa: F401 (fixtures)
from tests.matchmaker.test_matching import _next_event
from tests.spectator.conftest import relay_factory, watch_url  # noqa: F401 (fixtures)
from tests.waiting import until

OPTIONS = {"hand_size": 2, "rounds": 2, "turn_time_s": 0.5, "pause_s": 0.2, "score_limit": 1000}
CARDS = ModeConfig("cards", game_mode="cards", min_players=3, max_players=3, max_wait_s=5.0, start_timeout_s=10.0,
                   options=OPTIONS)
# The mode's spectator delay for 3 players: 1.25 x the longest round (2 x (3 x 0.5 + 0.2) s) + 2 s, rounded up.
DELAY_S = 7.0


class CheckedClient(GameClient):
    """A player's client that checks every frame it decodes for other players' hidden cards."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.frames = 0
        self.leaks: list[list[int]] = []
        self.own_cards_seen = 0
        self.refusals: list[dict[str, Any]] = []

    def _observe(self, msg: dict[str, Any]) -> None:
        if msg["t"] in ("keyframe", "delta"):
            self.frames += 1
            me = self.welcome["player"]
            rows = msg.get("objects", []) if msg["t"] == "keyframe" else msg.get("o+", [])
            for row in rows:
                if (row[1] == r.HAND and row[2] != me) or row[1] == r.STOCK:
                    self.leaks.append(row)
                elif row[1] == r.HAND:
                    self.own_cards_seen += 1
        elif msg["t"] == "events":
            self.refusals.extend(e for e in msg["e"] if e["k"] == "refused")
        super()._observe(msg)


async def test_a_cards_match_through_matchmaker_server_relay_and_rewards(
        server_factory: Any, cleanup_servers: Any, mm_factory: Any, relay_factory: Any,  # noqa: F811
        client_for: Any, mongo_url: str, mongo_db_name: str, redis_url: str, keys_dir: Any) -> None:  # noqa: F811
    game = await server_factory()
    relay = await relay_factory()
    shop = await client_for(make_settings(mongo_url, f"{mongo_db_name}_shop", redis_url, keys_dir))
    mm = await mm_factory(run_loops=True, modes=[CARDS])
    accounts = [await register(shop) for _ in range(3)]
    tickets = []
    for account in accounts:
        resp = await mm.post("/v1/tickets", json={"mode": "cards", "regions": {"local": 15}},
                             headers=account["headers"])
        assert resp.status == 201, await resp.text()
        tickets.append((await resp.json())["id"])
    stream = await mm.get(f"/v1/tickets/{tickets[0]}/events", headers=accounts[0]["headers"])
    event, view = await _next_event(stream)
    if event == "queued":
        event, view = await _next_event(stream)
    assert event == "matched"
    match_id = view["match"]["match_id"]
    assignments = [view["match"]]
    for account, ticket in zip(accounts[1:], tickets[1:], strict=True):
        async def matched(ticket: str = ticket, account: dict[str, Any] = account) -> dict[str, Any] | None:
            body: dict[str, Any] = await (await mm.get(f"/v1/tickets/{ticket}", headers=account["headers"])).json()
            return body["match"] if body["status"] == "matched" else None
        assignments.append(await until(matched, what="the ticket's match"))
    assert {a["match_id"] for a in assignments} == {match_id}

    players = [CheckedClient(a["address"]) for a in assignments]
    for client, assignment in zip(players, assignments, strict=True):
        welcome = await client.join(assignment["join_token"])
        assert welcome["t"] == "welcome" and welcome["mode"] == "cards", welcome
    assert welcome["input"]["row"] == ["seq", "card"]
    # A card outside the deck is refused by the schema, before the mode sees it, and changes nothing.
    await players[0].send_row(99)
    refused = await players[0].expect("error")
    assert refused["code"] == "bad_field" and "card" in refused["msg"]
    assert welcome["map"]["hand_size"] == 2 and welcome["map"]["spectator_delay_s"] == DELAY_S
    # A watcher asking for no delay joins at once; the relay holds it back to the mode's minimum.
    watcher = SpectatorClient(watch_url(relay, match_id, "delay=0"))
    ages: list[float] = []
    hands_seen: set[int] = set()

    def observe(spectator: SpectatorClient, msg: dict[str, Any]) -> None:
        if msg["t"] == "delta":
            ages.append(time.time() - msg["ts"] / 1e6)
        hands_seen.update(row[2] for row in spectator.replica.objects.values() if row[1] == r.HAND)

    await watcher.connect()
    watching = asyncio.create_task(watcher.watch_until_closed(60, observe))
    stop = asyncio.Event()
    await asyncio.wait_for(asyncio.gather(*(play(c, random.Random(i), stop) for i, c in enumerate(players))), 60)
    result = players[0].result
    assert result is not None and all(c.result == result for c in players)
    assert result["reason"] == "rounds"
    assert sum(row["score"] for row in result["results"]) == 2 * 2  # two rounds of two tricks
    for client in players:
        assert client.frames > 20 and client.own_cards_seen >= 4  # each held its own hand...
        assert client.leaks == []  # ...and never saw another's
        assert client.refusals == []  # the bots play by the rules

    # One encode per distinct view and tick, not one per player.
    metrics = game.metrics.render().decode()
    value = {line.split()[0]: float(line.split()[1]) for line in metrics.splitlines()
             if line and not line.startswith("#")}
    encodes, frames = value["elysium_gameserver_view_deltas_total"], value["elysium_gameserver_frames_out_total"]
    assert 0 < encodes < 0.8 * frames, (encodes, frames)

    await asyncio.wait_for(watching, 60)
    assert watcher.hello["min_delay_s"] == DELAY_S and watcher.hello["delay_s"] == DELAY_S
    assert watcher.end is not None and watcher.end["results"] == result["results"]
    assert min(ages) >= DELAY_S - 0.05  # never fresher than the minimum
    assert len(hands_seen) == 3  # the full view: every player's hand

    replay = SpectatorClient(watch_url(relay, match_id, "speed=8"))
    replay_hands: set[int] = set()
    await replay.connect()
    await replay.watch_until_closed(30, lambda s, m: replay_hands.update(
        row[2] for row in s.replica.objects.values() if row[1] == r.HAND))
    assert replay.hello["live"] is False and replay.end is not None
    assert replay.end["results"] == result["results"] and len(replay_hands) == 3

    # Rewards from the shipped catalog's cards rules, once each; ratings of the queue moved.
    rules = read_catalog(DEFAULT_CATALOG).rewards["cards"]
    top = max(row["score"] for row in result["results"])
    winners = [row for row in result["results"] if row["score"] == top]
    for row in result["results"]:
        account = next(a for a in accounts if a["account_id"] == row["player_id"])
        want = rules["participation"] + rules["per_score"] * row["score"]
        if len(winners) == 1 and row is winners[0] and top > 0:
            want += rules["win_bonus"]
        want = min(want, rules["max_per_player"])

        async def paid(account: dict[str, Any] = account, want: int = want) -> bool:
            body = await (await shop.get("/v1/me/wallet", headers=account["headers"])).json()
            return bool(body["balances"]["soft"] == 500 + want)
        await until(paid, timeout_s=20, what=f"the reward of {row['player_id']}")

    async def rated() -> bool:
        for account in accounts:
            body = await (await mm.get("/v1/players/me/ratings", headers=account["headers"])).json()
            if body["ratings"].get("cards", {}).get("matches") != 1:
                return False
        return True
    await until(rated, timeout_s=20, what="the ratings")
    stop.set()
    for client in players:
        await client.close()
    await watcher.close()
