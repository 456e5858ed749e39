"""Match history, season ratings and leaderboards: through the real app factory, the real
results consumer, real Redis and the embedded MongoDB server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from elysium import keys as shared_keys
from elysium import matchids, tokens
from elysium.results import MatchResult, PlayerRow
from matchmaker import keys, ranking
from matchmaker.leaderboard import Leaderboard
from tests.matchmaker.conftest import services

Factory = Callable[..., Awaitable[TestClient[Any, Any]]]
BASE_US = int(time.time() * 1_000_000)


def result(match_id: str, scores: dict[str, int], *, ended_s: float = 0.0, reason: str = "score",
           teams: dict[str, int] | None = None) -> MatchResult:
    rows = [PlayerRow(player_id=p, seat=i, name=p.title(), team=(teams or {}).get(p, 0), score=s, time_played_s=30.0,
                      stats={"kills": s, "deaths": 1}) for i, (p, s) in enumerate(scores.items())]
    rows.sort(key=lambda r: -r.score)
    ended = BASE_US + int(ended_s * 1_000_000)
    return MatchResult.create(match_id=match_id, mode="arena", seed=3, server_id="gs-1", reason=reason, ticks=600,
                              duration_s=30.0, started_at_us=ended - 30_000_000, ended_at_us=ended,
                              teams=2 if teams else 0, players=rows)


async def deliver(mm: TestClient[Any, Any], *results: MatchResult) -> None:
    """Append the results to the stream (as a game server does) and let the consumer take them."""
    svc = services(mm)
    await svc.consumer.ensure_group()
    for r in results:
        await svc.redis.xadd(shared_keys.RESULTS_STREAM, r.entry())  # type: ignore[arg-type]
    while await svc.consumer.poll(">"):
        pass


def service_headers(keys_dir: Path) -> dict[str, str]:
    signer = tokens.Signer(tokens.load_private_key(path=str(keys_dir / "service.key")), "elysium-commerce")
    return {"Authorization": f"Bearer {signer.issue('commerce', tokens.SERVICE_AUDIENCE, 60)}"}


@pytest.fixture
async def hm(mm_factory: Factory, keys_dir: Path) -> TestClient[Any, Any]:
    return await mm_factory(service_public_key_file=str(keys_dir / "service.pub"),
                            spectator_public_url="ws://relay.example:7370", season="s7")


async def problem(resp: Any, status: int, code: str) -> None:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"
    assert (await resp.json())["type"] == f"urn:elysium:problem:{code}"


async def test_a_result_is_stored_once_even_when_delivered_twice(hm: TestClient[Any, Any], auth: Any) -> None:
    svc = services(hm)
    r = result("duel.once", {"alice": 3, "bob": 1})
    await deliver(hm, r, r)  # the same match twice on the stream (a producer that lost its marker)
    # A third delivery after a crash: claimed from a consumer that never acknowledged it.
    await svc.redis.xadd(shared_keys.RESULTS_STREAM, r.entry())  # type: ignore[arg-type]
    await svc.redis.xreadgroup(keys.RATINGS_GROUP, "dead", {shared_keys.RESULTS_STREAM: ">"}, count=10)
    svc.consumer.claim_idle_ms = 0
    assert await svc.consumer.claim_abandoned() == 1
    assert svc.consumer.applied == 1
    assert await svc.ratings.matches.count_documents({}) == 1
    alice = await svc.ratings.standings.find_one({"_id": "duel:s7:alice"})
    assert alice is not None and (alice["matches"], alice["wins"], alice["v"]) == (1, 1, 1)
    assert await svc.ratings.standings.count_documents({}) == 2

    got = await hm.get("/v1/matches/duel.once", headers=auth("carol"))
    assert got.status == 200
    match = await got.json()
    assert match["winners"] == ["alice"] and match["season"] == "s7" and match["mode"] == "duel"
    assert match["rated"] is True and match["custom"] is None
    assert [p["player_id"] for p in match["players"]] == ["alice", "bob"]
    first = match["players"][0]
    assert first["stats"] == {"kills": 3, "deaths": 1} and first["won"] and first["placement"] == 1
    assert first["rating_after"]["mu"] > first["rating_before"]["mu"] == 25.0
    assert match["replay"] == {"status": "available", "url": "ws://relay.example:7370/v1/watch/duel.once",
                               "expires_at_ms": r.ended_at_us // 1000 + 3600 * 1000}
    assert match["ended_at_ms"] - match["started_at_ms"] == 30_000

    ratings = await (await hm.get("/v1/players/alice/ratings", headers=auth("carol"))).json()
    assert ratings["player"] == "alice" and ratings["season"] == "s7"
    assert [(x["mode"], x["season"], x["matches"], x["wins"]) for x in ratings["ratings"]] == [("duel", "s7", 1, 1)]
    assert ratings["ratings"][0]["ordinal"] == round(alice["mu"] - 3 * alice["sigma"], 4)
    nobody = await (await hm.get("/v1/players/nobody/ratings", headers=auth("carol"))).json()
    assert nobody == {"player": "nobody", "season": "s7", "ratings": []}


async def test_a_custom_games_match_is_in_the_history_and_rates_nobody(hm: TestClient[Any, Any], auth: Any) -> None:
    svc = services(hm)
    match_id = matchids.custom_match_id("FR1END", "duel")
    r = result(match_id, {"alice": 3, "bob": 1})
    await deliver(hm, r, r)  # delivered twice: recorded once
    assert svc.consumer.applied == 1 and await svc.ratings.matches.count_documents({}) == 1
    match = await (await hm.get(f"/v1/matches/{match_id}", headers=auth("carol"))).json()
    assert (match["mode"], match["rated"], match["custom"], match["winners"]) == ("duel", False, "FR1END", ["alice"])
    assert [(p["rating_before"], p["rating_after"]) for p in match["players"]] == [(None, None), (None, None)]
    assert match["replay"]["url"] == f"ws://relay.example:7370/v1/watch/{match_id}"
    mine = await (await hm.get("/v1/players/bob/matches", headers=auth("bob"))).json()
    assert [m["match_id"] for m in mine["items"]] == [match_id]
    # Nobody's rating, standing or leaderboard place moved.
    assert await svc.ratings.get("duel", "alice") is None
    assert await svc.ratings.standings.count_documents({}) == 0
    assert await board(hm, auth("alice"), "duel", "wins") == []
    # A rated match afterwards is rated as the players' first.
    await deliver(hm, result("duel.after", {"alice": 0, "bob": 2}, ended_s=1))
    bob = await svc.ratings.standings.find_one({"_id": "duel:s7:bob"})
    assert bob is not None and (bob["matches"], bob["wins"]) == (1, 1)


async def test_a_ranked_custom_games_match_is_rated_like_a_queued_one(hm: TestClient[Any, Any], auth: Any) -> None:
    svc = services(hm)
    match_id = matchids.custom_match_id("RANKED", "duel", ranked=True)
    await deliver(hm, result(match_id, {"alice": 3, "bob": 1}))
    match = await (await hm.get(f"/v1/matches/{match_id}", headers=auth("bob"))).json()
    assert (match["mode"], match["rated"], match["custom"]) == ("duel", True, "RANKED")
    assert match["players"][0]["rating_after"]["mu"] > 25.0
    assert await board(hm, auth("alice"), "duel", "wins") == ["alice", "bob"]


async def test_history_pages_newest_first(hm: TestClient[Any, Any], auth: Any) -> None:
    # Two matches end at the same microsecond: the match id orders them.
    await deliver(hm, *[result(f"arena.m{i}", {"alice": i, "bob": 5 - i}, ended_s=min(i, 3)) for i in range(5)],
                  result("duel.other", {"carol": 1, "dave": 0}, ended_s=9))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        url = "/v1/players/alice/matches?limit=2" + (f"&cursor={cursor}" if cursor else "")
        resp = await hm.get(url, headers=auth("alice"))
        assert resp.status == 200
        page = await resp.json()
        pages += 1
        assert page["player"] == "alice" and len(page["items"]) <= 2
        seen += [m["match_id"] for m in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == ["arena.m4", "arena.m3", "arena.m2", "arena.m1", "arena.m0"] and pages == 3
    whole = await (await hm.get("/v1/players/alice/matches", headers=auth("alice"))).json()
    assert [m["match_id"] for m in whole["items"]] == seen and whole["next"] is None
    mine = await (await hm.get("/v1/players/me/matches?limit=50", headers=auth("alice"))).json()
    assert mine == {**whole, "next": None}  # "me" is the caller
    assert (await (await hm.get("/v1/players/zed/matches", headers=auth("alice"))).json()) == {
        "player": "zed", "items": [], "next": None}


async def test_unknown_ids_are_404_problems(hm: TestClient[Any, Any], auth: Any) -> None:
    await problem(await hm.get("/v1/matches/duel.nope", headers=auth("a")), 404, "match-not-found")
    await problem(await hm.get("/v1/matches/" + "x" * 65, headers=auth("a")), 404, "match-not-found")
    await problem(await hm.get("/v1/leaderboards/chess", headers=auth("a")), 404, "unknown-mode")
    await problem(await hm.get("/v1/leaderboards/chess/me", headers=auth("a")), 404, "unknown-mode")
    await problem(await hm.get("/v1/players/" + "p" * 65 + "/matches", headers=auth("a")), 404, "player-not-found")


@pytest.mark.parametrize("query", [
    "limit=0", "limit=51", "limit=abc", "limit=-1", "limit=1e1", "limit=", "cursor=", "cursor=%%%",
    "cursor=bm90IGpzb24", "cursor=" + ranking.make_cursor({"e": 1}), "cursor=" + ranking.make_cursor({"e": "1", "m": "x"}),
    "cursor=" + ranking.make_cursor({"e": -5, "m": "x"}), "cursor=" + "A" * 600, "offset=3"])
async def test_bad_history_queries_are_400(hm: TestClient[Any, Any], auth: Any, rclient: aioredis.Redis,
                                           query: str) -> None:
    before = await rclient.dbsize()
    resp = await hm.get(f"/v1/players/alice/matches?{query}", headers=auth("alice"))
    await problem(resp, 400, "invalid-cursor" if query.startswith("cursor") else "invalid-request")
    assert await rclient.dbsize() == before


@pytest.mark.parametrize("query", [
    "limit=0", "limit=101", "by=kills", "season=S1", "season=" + "a" * 33, "cursor=xyz",
    "cursor=" + ranking.make_cursor({"o": 2, "s": "s6", "b": "rating"}),
    "cursor=" + ranking.make_cursor({"o": 2, "s": "s7", "b": "wins"}), "page=2"])
async def test_bad_leaderboard_queries_are_400(hm: TestClient[Any, Any], auth: Any, rclient: aioredis.Redis,
                                               query: str) -> None:
    before = await rclient.dbsize()
    resp = await hm.get(f"/v1/leaderboards/arena?{query}", headers=auth("alice"))
    await problem(resp, 400, "invalid-cursor" if query.startswith("cursor") else "invalid-request")
    assert await rclient.dbsize() == before
    await problem(await hm.get("/v1/leaderboards/arena/me?neighbours=26", headers=auth("alice")), 400,
                  "invalid-request")


async def test_tokens(hm: TestClient[Any, Any], auth: Any, keys_dir: Path, mm_factory: Factory) -> None:
    await problem(await hm.get("/v1/matches/duel.x"), 401, "unauthorized")
    await problem(await hm.get("/v1/matches/duel.x", headers={"Authorization": "Bearer junk"}), 401, "invalid-token")
    service = service_headers(keys_dir)
    assert (await hm.get("/v1/players/alice/matches", headers=service)).status == 200
    assert (await hm.get("/v1/leaderboards/arena", headers=service)).status == 200
    await problem(await hm.get("/v1/leaderboards/arena/me", headers=service), 403, "player-token-required")
    await problem(await hm.get("/v1/players/me/matches", headers=service), 403, "player-token-required")
    # Without the service key configured a service token is not accepted.
    plain = await mm_factory()
    await problem(await plain.get("/v1/players/alice/matches", headers=service), 401, "invalid-token")


async def standings_from_mongo(mm: TestClient[Any, Any], mode: str, season: str) -> list[dict[str, Any]]:
    return await services(mm).ratings.standings.find({"mode": mode, "season": season}).to_list(None)


async def board(mm: TestClient[Any, Any], headers: dict[str, str], mode: str, by: str, limit: int = 3) -> list[str]:
    out: list[str] = []
    cursor = None
    while True:
        url = f"/v1/leaderboards/{mode}?by={by}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        resp = await mm.get(url, headers=headers)
        assert resp.status == 200, await resp.text()
        page = await resp.json()
        assert [e["rank"] for e in page["items"]] == list(range(len(out) + 1, len(out) + 1 + len(page["items"])))
        out += [e["player"] for e in page["items"]]
        cursor = page["next"]
        if cursor is None:
            return out


async def play_season(mm: TestClient[Any, Any]) -> None:
    names = ["ann", "bea", "cat", "dan", "eve", "fay", "gus", "hal"]
    matches = []
    for i in range(12):
        a, b, c = names[i % 8], names[(i * 3 + 1) % 8], names[(i * 5 + 2) % 8]
        if len({a, b, c}) < 3:
            c = names[(i + 4) % 8]
        scores = {a: 3, b: 1, c: 1 if i % 2 else 0}  # ties for second place now and then
        matches.append(result(f"arena.s{i:02d}", scores, ended_s=i))
    matches.append(result("arena.tied", {"ann": 2, "hal": 2}, ended_s=20))  # a tie rates both, nobody wins
    matches.append(result("arena.drained", {"bea": 5, "cat": 0}, ended_s=21, reason="shutdown"))
    await deliver(mm, *matches)


async def test_leaderboard_equals_the_order_from_mongodb(hm: TestClient[Any, Any], auth: Any,
                                                         rclient: aioredis.Redis) -> None:
    await play_season(hm)
    docs = await standings_from_mongo(hm, "arena", "s7")
    assert len(docs) == 8
    drained = await (await hm.get("/v1/matches/arena.drained", headers=auth("x"))).json()
    assert drained["winners"] == []  # cut short by a drain: a leader but no winner
    for by in ranking.BY:
        expected = [str(d["player_id"]) for d in ranking.ordered(by, docs)]
        # The first read finds no index: it is answered from MongoDB while the index is built.
        assert await board(hm, auth("ann"), "arena", by) == expected
        await services(hm).leaderboard.rebuild("arena", "s7")
        assert await rclient.zcard(keys.leaderboard("arena", "s7", by)) == 8
        assert await board(hm, auth("ann"), "arena", by) == expected  # now from the index
        mongo_order = await services(hm).ratings.standings.find({"mode": "arena", "season": "s7"}).sort(
            ranking.sort_spec(by)).to_list(None)
        assert [d["player_id"] for d in mongo_order] == expected
    # Later matches are written to the index in the path that applies them.
    await deliver(hm, result("arena.late", {"hal": 9, "gus": 0}, ended_s=30))
    docs = await standings_from_mongo(hm, "arena", "s7")
    assert await services(hm).leaderboard.whole("arena", "s7")
    for by in ranking.BY:
        assert await board(hm, auth("ann"), "arena", by, limit=100) == [
            str(d["player_id"]) for d in ranking.ordered(by, docs)]
    top = await (await hm.get("/v1/leaderboards/arena?by=wins&limit=1", headers=auth("ann"))).json()
    first = ranking.ordered("wins", docs)[0]
    assert top["total"] == 8 and top["items"][0]["name"] == str(first["player_id"]).title()
    assert top["items"][0]["wins"] == first["wins"] and top["season"] == "s7"
    keys_before = await rclient.dbsize()
    other = await (await hm.get("/v1/leaderboards/arena?season=s6", headers=auth("ann"))).json()
    assert other == {"mode": "arena", "season": "s6", "by": "rating", "total": 0, "items": [], "next": None}
    assert await rclient.dbsize() == keys_before  # a season nobody played leaves no index behind


async def test_my_rank_and_neighbours(hm: TestClient[Any, Any], auth: Any) -> None:
    await play_season(hm)
    docs = ranking.ordered("rating", await standings_from_mongo(hm, "arena", "s7"))
    order = [str(d["player_id"]) for d in docs]
    for via_index in (False, True):
        if via_index:
            await services(hm).leaderboard.rebuild("arena", "s7")
        for player in ("ann", order[0], order[-1]):
            me = await (await hm.get("/v1/leaderboards/arena/me?neighbours=2", headers=auth(player))).json()
            rank = order.index(player) + 1
            assert me["rank"] == rank and me["player"] == player and me["total"] == 8
            window = order[max(0, rank - 3):rank + 2]
            assert [e["player"] for e in me["items"]] == window
            assert [e["rank"] for e in me["items"]] == list(range(max(1, rank - 2), max(1, rank - 2) + len(window)))
    stranger = await (await hm.get("/v1/leaderboards/arena/me", headers=auth("zed"))).json()
    assert stranger["rank"] is None and stranger["items"] == []


async def test_the_index_deleted_is_rebuilt_with_the_same_ranks(hm: TestClient[Any, Any], auth: Any,
                                                               rclient: aioredis.Redis, mm_factory: Factory,
                                                               keys_dir: Path) -> None:
    await play_season(hm)
    lb = services(hm).leaderboard
    await lb.rebuild("arena", "s7")
    before = {by: await board(hm, auth("ann"), "arena", by) for by in ranking.BY}
    ranks = {p: await rclient.zrank(keys.leaderboard("arena", "s7", "rating"), p) for p in before["rating"]}
    # Only the rating set is deleted, while another replica holds the rebuild lock: this one
    # does not rebuild, and answers from MongoDB in the same order.
    await rclient.delete(keys.leaderboard("arena", "s7", "rating"))
    await rclient.set(keys.leaderboard_lock("arena", "s7"), "another-replica", px=60_000)
    assert not await lb.whole("arena", "s7") and lb.rebuilds_started == 1
    assert {by: await board(hm, auth("ann"), "arena", by) for by in ranking.BY} == before
    assert not await rclient.exists(keys.leaderboard("arena", "s7", "rating"))
    # The lock expires (that replica died): the next reader rebuilds.
    await rclient.delete(keys.leaderboard_lock("arena", "s7"))
    assert await lb.rebuild("arena", "s7") == 8
    assert not await rclient.exists(keys.leaderboard_lock("arena", "s7"))
    assert {p: await rclient.zrank(keys.leaderboard("arena", "s7", "rating"), p) for p in before["rating"]} == ranks
    metrics = await (await hm.get("/metrics")).text()
    assert "elysium_matchmaker_leaderboard_rebuilds_total 2.0" in metrics
    assert {by: await board(hm, auth("ann"), "arena", by) for by in ranking.BY} == before
    # Every key gone (a Redis that lost its data): the same again.
    await rclient.delete(*[k for k in await rclient.keys("elysium:mm:lb:*")])
    other = services(await mm_factory(season="s7"))
    assert await other.leaderboard.rebuild("arena", "s7") == 8
    assert {by: await board(hm, auth("ann"), "arena", by) for by in ranking.BY} == before


async def test_index_writes_keep_the_newest_standing(hm: TestClient[Any, Any], rclient: aioredis.Redis) -> None:
    lb: Leaderboard = services(hm).leaderboard
    doc = {"player_id": "ann", "ordinal": 5.0, "wins": 2, "matches": 3, "v": 4}
    assert await lb.write("arena", "s7", [doc]) == -1  # no index yet: left to the rebuild
    assert await lb.rebuild("arena", "s7") == 0 and not await rclient.exists(keys.leaderboard_built("arena", "s7"))
    await deliver(hm, result("arena.one", {"bea": 1, "cat": 0}))
    assert await lb.rebuild("arena", "s7") == 2
    assert await lb.write("arena", "s7", [doc]) == 1
    assert await lb.write("arena", "s7", [doc]) == 0  # a repeat changes nothing
    assert await lb.write("arena", "s7", [{**doc, "ordinal": 1.0, "v": 3}]) == 0  # an older one neither
    assert await rclient.zscore(keys.leaderboard("arena", "s7", "rating"), "ann") == -5.0
    assert await lb.write("arena", "s7", [{**doc, "ordinal": 7.5, "v": 5}]) == 1
    assert await rclient.zscore(keys.leaderboard("arena", "s7", "rating"), "ann") == -7.5


async def test_concurrent_readers_start_one_rebuild(hm: TestClient[Any, Any], mm_factory: Factory) -> None:
    await play_season(hm)
    replicas = [services(hm).leaderboard] + [services(await mm_factory(season="s7")).leaderboard for _ in range(3)]
    await asyncio.gather(*[lb.whole("arena", "s7") for lb in replicas for _ in range(5)])
    assert sum(lb.rebuilds_started for lb in replicas) == 1
    sizes = await asyncio.gather(*[lb.rebuild("arena", "s7") for lb in replicas])
    assert sizes == [8, 8, 8, 8]


async def test_replay_links_expire(mm_factory: Factory, auth: Any) -> None:
    mm = await mm_factory(spectator_public_url="ws://relay.example:7370/", feed_retention_s=1)
    old = result("duel.old", {"a": 1, "b": 0}, ended_s=-5)
    await deliver(mm, old)
    view = await (await mm.get("/v1/matches/duel.old", headers=auth("a"))).json()
    assert view["replay"] == {"status": "expired", "url": None, "expires_at_ms": old.ended_at_us // 1000 + 1000}
    bare = await mm_factory()  # no relay URL configured: no link, said so
    view = await (await bare.get("/v1/matches/duel.old", headers=auth("a"))).json()
    assert view["replay"]["status"] == "unavailable" and view["replay"]["url"] is None


async def test_a_redelivery_writes_the_index_a_crash_left_behind(hm: TestClient[Any, Any],
                                                                 rclient: aioredis.Redis) -> None:
    svc = services(hm)
    await deliver(hm, result("arena.first", {"ann": 1, "bea": 0}))
    await svc.leaderboard.rebuild("arena", "s7")
    late = result("arena.second", {"cat": 4, "ann": 0})
    # A replica stored the match in MongoDB and died before writing the index.
    assert await svc.ratings.apply("arena", late)
    assert await rclient.zscore(keys.leaderboard("arena", "s7", "rating"), "cat") is None
    await deliver(hm, late)  # delivered again: nothing is applied twice, the index catches up
    assert svc.consumer.applied == 1
    cat = await svc.ratings.standings.find_one({"_id": "arena:s7:cat"})
    assert cat is not None and cat["matches"] == 1
    assert await rclient.zscore(keys.leaderboard("arena", "s7", "rating"), "cat") == ranking.score(
        "rating", cat["ordinal"], 1, 1)
    docs = await standings_from_mongo(hm, "arena", "s7")
    assert await svc.leaderboard.whole("arena", "s7")
    assert [e.player for e in (await svc.leaderboard.page("arena", "s7", "wins", 0, 10))[1]] == [
        str(d["player_id"]) for d in ranking.ordered("wins", docs)]
