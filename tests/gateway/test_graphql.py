"""GraphQL through the real gateway in front of the real commerce, matchmaker and relay."""

from __future__ import annotations

import uuid
from typing import Any

from tests.butler.world import EMBER_BLADE
from tests.gateway.graphql_stack import (Stack, admin_token, client_for, made, mm_factory,  # noqa: F401
                                         mm_settings, relay_factory, stack, world)

VIEWER = """{ viewer { id profile { displayName username } wallet { balances { soft premium } }
                       items(first: 10) { id itemId custody itemType { name rarity price { soft premium } } }
                       payments(first: 5) { paymentId state } } }"""


async def test_the_viewer_sees_wallet_and_items_after_a_purchase(stack: Stack) -> None:
    ayla = await stack.player("Ayla", soft=250, items=("ember-blade",))
    body = await stack.query(VIEWER, player=ayla)
    assert "errors" not in body, body
    viewer = body["data"]["viewer"]
    assert viewer["id"] == ayla["account_id"] and viewer["profile"]["displayName"] == "Ayla"
    assert viewer["wallet"]["balances"] == {"soft": 250, "premium": 0} == await stack.world.wallet(ayla)
    assert viewer["payments"] == []  # bought with coins, no pack paid for
    owned = await stack.world.items(ayla)
    assert [i["id"] for i in viewer["items"]] == [i["id"] for i in owned] and len(owned) == 1
    assert viewer["items"][0]["itemType"] == {"name": EMBER_BLADE["name"], "rarity": "rare",
                                              "price": {"soft": 100, "premium": 10}}
    # Another purchase through the REST API shows on the next read: nothing is cached across requests.
    resp = await stack.world.commerce.post("/v1/purchases", json={"item_id": "health-potion", "currency": "soft"},
                                           headers={**ayla["headers"], "Idempotency-Key": uuid.uuid4().hex})
    assert resp.status == 201, await resp.text()
    again = (await stack.query(VIEWER, player=ayla))["data"]["viewer"]
    assert again["wallet"]["balances"]["soft"] == 225
    assert [i["itemId"] for i in again["items"]] == ["health-potion", "ember-blade"]


async def test_signed_out_there_is_no_viewer_and_no_upstream_read(stack: Stack) -> None:
    before = stack.reads()
    body = await stack.query("{ viewer { id wallet { balances { soft } } } }")
    assert body == {"data": {"viewer": None}}
    assert made(before, stack.reads()) == {}


LISTINGS = """query Page($first: Int!) { listings(first: $first, sort: PRICE_ASC, filter: {currency: "soft"}) {
    listings { id price currency sellerId seller { id displayName } } next } }"""


async def test_a_page_of_20_listings_with_sellers_makes_2_upstream_reads(stack: Stack) -> None:
    sellers = [await stack.player(f"Seller {n:02d}", items=("ember-blade",)) for n in range(21)]
    for n, seller in enumerate(sellers):
        item = (await stack.world.items(seller))[0]["id"]
        await stack.world.listing(seller, item, price=100 + n)
    viewer = await stack.player("Buyer")
    before = stack.reads()
    body = await stack.query(LISTINGS, {"first": 20}, player=viewer)
    assert "errors" not in body, body
    page = body["data"]["listings"]
    assert len(page["listings"]) == 20 and page["next"] is not None
    by_id = {s["account_id"]: s for s in sellers}
    for n, row in enumerate(page["listings"]):
        assert row["price"] == 100 + n and row["seller"]["id"] == row["sellerId"]
        assert row["seller"]["displayName"] == by_id[row["sellerId"]]["display_name"]
    reads = made(before, stack.reads())
    assert reads == {("commerce", "GET /v1/listings"): 1, ("commerce", "GET /v1/players"): 1}, reads  # not 21
    # The item types' names add one read of the catalog, whatever the number of rows.
    before = stack.reads()
    named = await stack.query(LISTINGS.replace("seller { id displayName }", "seller { id } item { name }"),
                              {"first": 20}, player=viewer)
    assert all(row["item"] == {"name": EMBER_BLADE["name"]} for row in named["data"]["listings"]["listings"])
    assert made(before, stack.reads()) == {("commerce", "GET /v1/listings"): 1, ("commerce", "GET /v1/players"): 1,
                                           ("commerce", "GET /v1/catalog"): 1}
    # The next page follows the cursor.
    rest = await stack.query("""query($after: String) {
                                  listings(first: 20, sort: PRICE_ASC, filter: {currency: "soft"}, after: $after) {
                                  listings { price } next } }""", {"after": page["next"]}, player=viewer)
    assert rest["data"]["listings"] == {"listings": [{"price": 120}], "next": None}


async def test_listings_signed_out_show_no_sellers_and_read_no_players(stack: Stack) -> None:
    seller = await stack.player("Vendor", items=("ember-blade",))
    listed = await stack.world.listing(seller, (await stack.world.items(seller))[0]["id"], price=77)
    before = stack.reads()
    body = await stack.query("{ listings(first: 5) { listings { id sellerId seller { displayName } } } }")
    assert body["data"]["listings"]["listings"] == [{"id": listed["id"], "sellerId": seller["account_id"],
                                                     "seller": None}]
    assert made(before, stack.reads()) == {("commerce", "GET /v1/listings"): 1}


async def test_a_listing_with_provenance_and_price_history(stack: Stack) -> None:
    seller = await stack.player("First Owner", items=("ember-blade",))
    buyer = await stack.player("Second Owner", soft=500)
    item = (await stack.world.items(seller))[0]["id"]
    first = await stack.world.listing(seller, item, price=120)
    resp = await stack.world.commerce.post(f"/v1/listings/{first['id']}/purchase",
                                           headers={**buyer["headers"], "Idempotency-Key": uuid.uuid4().hex})
    assert resp.status == 201, await resp.text()
    second = await stack.world.listing(buyer, item, price=150)
    body = await stack.query("""query($id: ID!) { listing(id: $id) { id state price seller { displayName }
        provenance { item origin previousOwners sales { price currency } }
        priceStats { soft { last { unitPrice quantity } day { sales min max median } week { sales } } premium {
        last { unitPrice } } } } }""", {"id": second["id"]}, player=buyer)
    assert "errors" not in body, body
    detail = body["data"]["listing"]
    assert detail["state"] == "open" and detail["price"] == 150 and detail["seller"]["displayName"] == "Second Owner"
    assert detail["provenance"] == [{"item": item, "origin": "purchase", "previousOwners": [seller["account_id"]],
                                     "sales": [{"price": 120, "currency": "soft"}]}]
    soft = detail["priceStats"]["soft"]
    assert soft["last"] == {"unitPrice": 120, "quantity": 1}
    assert soft["day"] == {"sales": 1, "min": 120, "max": 120, "median": 120} and soft["week"]["sales"] == 1
    assert detail["priceStats"]["premium"]["last"] is None
    unknown = await stack.query('{ listing(id: "%s") { id } }' % ("0" * 32))
    assert unknown == {"data": {"listing": None}}


async def test_a_trades_parties_resolve_in_one_batch(stack: Stack) -> None:
    offerer = await stack.player("Offerer", items=("ember-blade",))
    receiver = await stack.player("Receiver", soft=80)
    item = (await stack.world.items(offerer))[0]["id"]
    resp = await stack.world.commerce.post("/v1/trades", json={
        "receiver_id": receiver["account_id"], "offer": {"items": [item]}, "request": {"currency": {"soft": 60}}},
        headers={**offerer["headers"], "Idempotency-Key": uuid.uuid4().hex})
    assert resp.status == 201, await resp.text()
    trade_id = (await resp.json())["trade_id"]
    query = """query($role: TradeRole!) { viewer { trades(role: $role) { trades { tradeId state
        offerer { displayName } receiver { displayName } offer { items { id itemId } currency { soft } }
        request { items { id } currency { soft premium } } } nextCursor } } }"""
    before = stack.reads()
    body = await stack.query(query, {"role": "RECEIVED"}, player=receiver)
    assert "errors" not in body, body
    page = body["data"]["viewer"]["trades"]
    assert page == {"nextCursor": None, "trades": [{
        "tradeId": trade_id, "state": "open", "offerer": {"displayName": "Offerer"},
        "receiver": {"displayName": "Receiver"}, "offer": {"items": [{"id": item, "itemId": "ember-blade"}],
                                                           "currency": {"soft": None}},
        "request": {"items": [], "currency": {"soft": 60, "premium": None}}}]}
    assert made(before, stack.reads())[("commerce", "GET /v1/players")] == 1  # both parties in one read
    sent = await stack.query(query, {"role": "SENT"}, player=receiver)
    assert sent["data"]["viewer"]["trades"]["trades"] == []


async def test_friends_with_presence_and_friend_requests(stack: Stack) -> None:
    ayla, bo, cy = await stack.player("Ayla"), await stack.player("Bo"), await stack.player("Cy")
    await stack.world.befriend(ayla, bo)
    resp = await stack.world.commerce.post("/v1/me/friends/requests", headers=cy["headers"],
                                           json={"player_id": ayla["account_id"]})
    assert resp.status == 201, await resp.text()
    body = await stack.query("""{ viewer { friends { id displayName since presence { state matchId }
        player { displayName createdAt } }
        friendRequests { incoming { id displayName player { id } } outgoing { id } } } }""", player=ayla)
    assert "errors" not in body, body
    viewer = body["data"]["viewer"]
    [friend] = viewer["friends"]
    assert friend["id"] == bo["account_id"] and friend["displayName"] == "Bo" and friend["since"]
    assert friend["presence"] == {"state": "online", "matchId": None}  # Bo signed in at registration
    assert friend["player"]["displayName"] == "Bo" and friend["player"]["createdAt"]
    assert viewer["friendRequests"] == {"incoming": [{"id": cy["account_id"], "displayName": "Cy",
                                                      "player": {"id": cy["account_id"]}}], "outgoing": []}


async def test_match_history_ratings_leaderboard_and_a_public_profile(stack: Stack) -> None:
    ayla, bo = await stack.player("Ayla"), await stack.player("Bo")
    match_id = f"arena.{uuid.uuid4().hex[:12]}"
    await stack.world.finish_match(match_id, {"Ayla": (ayla, 5), "Bo": (bo, 2)})
    body = await stack.query("""{ viewer { matches(first: 5) { items { matchId mode teams winners
        players { playerId name score won ratingAfter { ordinal } } replay { status } } next }
        ratings { mode matches wins } } }""", player=ayla)
    assert "errors" not in body, body
    viewer = body["data"]["viewer"]
    [played] = viewer["matches"]["items"]
    assert played["matchId"] == match_id and played["mode"] == "arena" and played["winners"] == [ayla["account_id"]]
    assert [(p["playerId"], p["score"], p["won"]) for p in played["players"]] == [
        (ayla["account_id"], 5, True), (bo["account_id"], 2, False)]
    assert played["players"][0]["ratingAfter"]["ordinal"] is not None and viewer["matches"]["next"] is None
    assert viewer["ratings"] == [{"mode": "arena", "matches": 1, "wins": 1}]
    board = await stack.query("""{ leaderboard(mode: "arena", first: 10) { mode total
        items { rank playerId name player { displayName } } next viewerRank } }""", player=bo)
    assert "errors" not in board, board
    assert board["data"]["leaderboard"] == {
        "mode": "arena", "total": 2, "next": None, "viewerRank": 2,
        "items": [{"rank": 1, "playerId": ayla["account_id"], "name": "Ayla", "player": {"displayName": "Ayla"}},
                  {"rank": 2, "playerId": bo["account_id"], "name": "Bo", "player": {"displayName": "Bo"}}]}
    profile = await stack.query("""query($id: ID!) { player(id: $id) { id displayName ratings { mode wins }
        matches(first: 1) { items { matchId } } } }""", {"id": bo["account_id"]}, player=ayla)
    assert profile["data"]["player"] == {"id": bo["account_id"], "displayName": "Bo",
                                         "ratings": [{"mode": "arena", "wins": 0}],
                                         "matches": {"items": [{"matchId": match_id}]}}
    nobody = await stack.query('{ player(id: "nobody-at-all") { id } }', player=ayla)
    assert nobody == {"data": {"player": None}}


async def test_catalog_packs_queues_and_live_matches(stack: Stack, redis_url: str) -> None:
    import redis.asyncio as aioredis

    from tests.spectator.conftest import SyntheticFeed

    client = aioredis.Redis.from_url(redis_url)
    feed = SyntheticFeed(client, f"demo-{uuid.uuid4().hex[:8]}")
    feed.describe()
    await feed.flush()
    body = await stack.query("""{ catalog { id name price { soft } } catalogItem(id: "ember-blade") { name tradeable }
        missing: catalogItem(id: "no-such-thing") { name } packs { id price currency premium }
        queues { mode playersWaiting regions { region players } } liveMatches { live { matchId mode state watch }
        replays { matchId } } }""")
    await client.aclose()
    assert "errors" not in body, body
    data = body["data"]
    assert {"id": "ember-blade", "name": "Ember Blade", "price": {"soft": 100}} in data["catalog"]
    assert data["catalogItem"] == {"name": "Ember Blade", "tradeable": True} and data["missing"] is None
    assert data["packs"] and all(p["price"] > 0 and len(p["currency"]) == 3 for p in data["packs"])
    assert {q["mode"] for q in data["queues"]} == {"arena", "duel", "squads"}
    assert all(q["playersWaiting"] == 0 for q in data["queues"])
    assert {"matchId": feed.match_id, "mode": "arena", "state": "running",
            "watch": f"/v1/watch/{feed.match_id}"} in data["liveMatches"]["live"]


async def _code(stack: Stack, query: str, player: dict[str, Any] | None = None,
                variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = await stack.query(query, variables, player)
    assert body.get("errors"), body
    ext: dict[str, Any] = body["errors"][0]["extensions"]
    return {"code": ext["code"], "status": ext["status"], "message": body["errors"][0]["message"],
            "data": body.get("data"), **{k: v for k, v in ext.items() if k not in ("code", "status")}}


async def test_upstream_problems_become_graphql_errors_with_their_code(stack: Stack) -> None:
    ayla = await stack.player("Ayla")
    unknown_mode = await _code(stack, '{ leaderboard(mode: "nope") { total } }', ayla)
    assert unknown_mode["code"] == "unknown-mode" and unknown_mode["status"] == 404
    assert "no such queue mode" in unknown_mode["message"]
    bad_filter = await _code(stack, '{ listings(filter: {rarity: "shiny"}) { next } }')
    assert bad_filter["code"] == "invalid-request" and bad_filter["status"] == 400 and "rarity" in bad_filter["errors"]
    bad_page = await _code(stack, "{ listings(first: 0) { next } }")
    assert bad_page["code"] == "invalid-request" and bad_page["errors"] == {"first": "1..200"}
    no_chain = await _code(stack, '{ work(id: "1") { id licences { id } } }', ayla)
    assert no_chain["code"] == "chain-disabled" and no_chain["data"] == {"work": None}
    forged = {"headers": {"Authorization": "Bearer not-a-token"}}
    bad_token = await _code(stack, "{ viewer { id } }", forged)
    assert bad_token["code"] == "invalid-token" and bad_token["status"] == 401
    signed_out = await _code(stack, '{ player(id: "someone") { id } }')
    assert signed_out["code"] == "unauthorized" and signed_out["status"] == 401
    # One failing field leaves the others answered.
    body = await stack.query('{ packs { id } leaderboard(mode: "nope") { total } }', player=ayla)
    assert body["data"]["packs"] and body["data"]["leaderboard"] is None
    assert body["errors"][0]["path"] == ["leaderboard"]
