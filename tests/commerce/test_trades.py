"""Trades through the real app: offers into escrow, accept, decline, cancel, expiry, reads and pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from commerce.appkeys import STORE
from commerce.store import now
from commerce.trades_api import TRADES
from tests.commerce.trade_fixtures import (act, assert_audit_passes, audit, offer, player, snapshot,
                                            totals)


async def _wallet(client: Any, p: dict[str, Any]) -> dict[str, int]:
    body: dict[str, int] = (await (await client.get("/v1/me/wallet", headers=p["headers"])).json())["balances"]
    return body


async def _item(client: Any, item: str) -> dict[str, Any]:
    doc: dict[str, Any] = await client.app[STORE].items.find_one({"_id": item})
    return doc


async def test_offer_holds_escrow_and_accept_swaps_everything(client: Any, admin_token: str, mongo_url: str,
                                                              mongo_db_name: str) -> None:
    alice = await player(client, "speed-boots", "health-potion", premium=50, admin_token=admin_token)  # 175 soft
    bob = await player(client, "health-potion", "health-potion")  # 450 soft
    boots, potion = alice["items"]["speed-boots"][0], alice["items"]["health-potion"][0]
    wanted = bob["items"]["health-potion"][1]
    stranger = await player(client)
    before = await totals(client)
    resp = await offer(client, alice, bob["account_id"], key="t1",
                       offer={"items": [boots, potion], "currency": {"soft": 100, "premium": 20}},
                       request={"items": [wanted], "currency": {"soft": 30}})
    assert resp.status == 201, await resp.text()
    trade = await resp.json()
    assert trade["state"] == "open" and trade["offerer_id"] == alice["account_id"]
    assert trade["offer"] == {"items": [{"id": boots, "item_id": "speed-boots"},
                                        {"id": potion, "item_id": "health-potion"}],
                              "currency": {"soft": 100, "premium": 20}}
    assert trade["request"] == {"items": [{"id": wanted, "item_id": "health-potion"}], "currency": {"soft": 30}}
    assert await _wallet(client, alice) == {"soft": 75, "premium": 30}
    escrow = {w["currency"]: w["balance"] async for w in client.app[STORE].wallets.find({"account": "escrow"})}
    assert escrow == {"soft": 100, "premium": 20}
    for item in (boots, potion):
        doc = await _item(client, item)
        assert (doc["owner"], doc["custody"], doc["trade"]) == (alice["account_id"], "escrow", trade["trade_id"])
    assert await totals(client) == before
    assert_audit_passes(mongo_url, mongo_db_name)

    # Both parties read it; nobody else does.
    for who in (alice, bob):
        got = await client.get(f"/v1/trades/{trade['trade_id']}", headers=who["headers"])
        assert got.status == 200 and await got.json() == trade
    assert (await client.get(f"/v1/trades/{trade['trade_id']}", headers=stranger["headers"])).status == 404
    assert (await act(client, stranger, trade["trade_id"], "accept")).status == 404

    done = await act(client, bob, trade["trade_id"], "accept", key="yes")
    assert done.status == 200, await done.text()
    accepted = await done.json()
    assert accepted["state"] == "accepted" and accepted["closed_by"] == bob["account_id"]
    assert done.headers["Idempotent-Replayed"] == "false"
    assert await _wallet(client, alice) == {"soft": 105, "premium": 30}
    assert await _wallet(client, bob) == {"soft": 520, "premium": 20}
    escrow = {w["currency"]: w["balance"] async for w in client.app[STORE].wallets.find({"account": "escrow"})}
    assert escrow == {"soft": 0, "premium": 0}
    for item, owner in ((boots, bob), (potion, bob), (wanted, alice)):
        doc = await _item(client, item)
        assert (doc["owner"], doc["custody"], "trade" in doc) == (owner["account_id"], "in_game", False)
    assert (await _item(client, boots))["unique_owner"] == f"{bob['account_id']}|speed-boots"
    # The ledger shows every move, each entry of kind trade naming the trade.
    entries = (await (await client.get("/v1/me/ledger", headers=bob["headers"])).json())["entries"]
    trade_entries = sorted((e["currency"], e["delta"]) for e in entries if e["kind"] == "trade")
    assert trade_entries == [("premium", 20), ("soft", -30), ("soft", 100)]
    assert all(e["ref"] == trade["trade_id"] for e in entries if e["kind"] == "trade")
    assert await totals(client) == before
    assert_audit_passes(mongo_url, mongo_db_name)

    # A retry of the accept answers the same; the same key for another event, or a new accept, is refused
    # and changes nothing.
    closed = await snapshot(client)
    again = await act(client, bob, trade["trade_id"], "accept", key="yes")
    assert again.status == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert await again.json() == accepted
    assert (await (await act(client, bob, trade["trade_id"], "decline", key="yes")).json())["code"] == \
        "idempotency-key-reused"
    late = await act(client, bob, trade["trade_id"], "accept")
    assert late.status == 409 and (await late.json())["code"] == "trade-not-open"
    assert (await (await act(client, alice, trade["trade_id"], "cancel")).json())["code"] == "trade-not-open"
    assert await snapshot(client) == closed


async def test_decline_and_cancels_return_the_escrow_exactly(client: Any, mongo_url: str,
                                                             mongo_db_name: str) -> None:
    alice = await player(client, "speed-boots")
    bob = await player(client)
    boots = alice["items"]["speed-boots"][0]
    start = await snapshot(client)
    wallets_before = start[0]
    for who, event, state in ((bob, "decline", "declined"), (alice, "cancel", "cancelled"),
                              (bob, "cancel", "cancelled")):
        resp = await offer(client, alice, bob["account_id"], offer={"items": [boots], "currency": {"soft": 150}})
        assert resp.status == 201, await resp.text()
        trade = await resp.json()
        assert await _wallet(client, alice) == {"soft": 50, "premium": 0}
        done = await act(client, who, trade["trade_id"], event)
        assert done.status == 200, await done.text()
        body = await done.json()
        assert body["state"] == state and body["closed_by"] == who["account_id"]
        doc = await _item(client, boots)
        assert (doc["owner"], doc["custody"], "trade" in doc) == (alice["account_id"], "in_game", False)
        assert (await snapshot(client))[0] == wallets_before
    # Escrow out and back: two entries each way per trade, and the audit agrees.
    ledger = client.app[STORE].ledger
    assert await ledger.count_documents({"kind": "trade"}) == 3 * 4
    assert_audit_passes(mongo_url, mongo_db_name)


async def test_only_the_right_party_makes_each_move(client: Any) -> None:
    alice = await player(client, "health-potion")
    bob = await player(client)
    trade = await (await offer(client, alice, bob["account_id"],
                               offer={"items": alice["items"]["health-potion"]})).json()
    start = await snapshot(client)
    for event in ("accept", "decline"):
        resp = await act(client, alice, trade["trade_id"], event)
        body = await resp.json()
        assert resp.status == 403 and body["code"] == "wrong-trade-party", body
        assert body["type"] == "urn:elysium:problem:wrong-trade-party"
    assert await snapshot(client) == start


async def test_a_gift_and_a_request_alone_are_trades(client: Any) -> None:
    alice = await player(client)
    bob = await player(client, "health-potion")
    gift = await (await offer(client, alice, bob["account_id"], offer={"currency": {"soft": 10}})).json()
    ask = await (await offer(client, alice, bob["account_id"],
                             request={"items": bob["items"]["health-potion"]})).json()
    assert (await act(client, bob, gift["trade_id"], "accept")).status == 200
    assert (await act(client, bob, ask["trade_id"], "accept")).status == 200
    assert await _wallet(client, bob) == {"soft": 485, "premium": 0}
    assert (await _item(client, bob["items"]["health-potion"][0]))["owner"] == alice["account_id"]


async def test_a_failed_accept_changes_nothing(client: Any) -> None:
    alice = await player(client, "speed-boots")
    bob = await player(client, "speed-boots", "health-potion")  # 175 soft
    carol = await player(client)
    # Bob cannot pay 200.
    poor = await (await offer(client, alice, bob["account_id"], offer={"currency": {"soft": 1}},
                              request={"currency": {"soft": 200}})).json()
    # Bob already owns speed boots, a unique type.
    twice = await (await offer(client, alice, bob["account_id"],
                               offer={"items": alice["items"]["speed-boots"]})).json()
    # Bob's potion is in escrow of another trade by the time he accepts.
    wanted = bob["items"]["health-potion"][0]
    gone = await (await offer(client, alice, bob["account_id"], request={"items": [wanted]})).json()
    assert (await offer(client, bob, carol["account_id"], offer={"items": [wanted]})).status == 201
    start = await snapshot(client)
    for trade, status, code in ((poor, 409, "insufficient-funds"), (twice, 409, "already-owned"),
                                (gone, 409, "item-unavailable")):
        resp = await act(client, bob, trade["trade_id"], "accept")
        body = await resp.json()
        assert (resp.status, body["code"]) == (status, code), body
        assert await snapshot(client) == start
    # A swap of two unique items of one type is fine: each owner ends with one.
    assert (await act(client, bob, twice["trade_id"], "decline")).status == 200
    swap = await (await offer(client, alice, bob["account_id"], key="swap",
                              offer={"items": alice["items"]["speed-boots"]},
                              request={"items": bob["items"]["speed-boots"]})).json()
    resp = await act(client, bob, swap["trade_id"], "accept")
    assert resp.status == 200, await resp.text()
    assert (await _item(client, alice["items"]["speed-boots"][0]))["unique_owner"] == \
        f"{bob['account_id']}|speed-boots"
    assert (await _item(client, bob["items"]["speed-boots"][0]))["unique_owner"] == \
        f"{alice['account_id']}|speed-boots"


async def test_an_offer_is_idempotent(client: Any) -> None:
    alice = await player(client)
    bob = await player(client)
    first = await offer(client, alice, bob["account_id"], key="k", offer={"currency": {"soft": 40}})
    assert first.status == 201
    again = await offer(client, alice, bob["account_id"], key="k", offer={"currency": {"soft": 40}})
    assert again.status == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert await again.json() == await first.json()
    start = await snapshot(client)
    other = await offer(client, alice, bob["account_id"], key="k", offer={"currency": {"soft": 41}})
    assert other.status == 422 and (await other.json())["code"] == "idempotency-key-reused"
    assert await snapshot(client) == start
    assert await _wallet(client, alice) == {"soft": 460, "premium": 0}


async def test_an_expired_trade_returns_its_escrow_and_refuses_moves(client: Any, mongo_url: str,
                                                                     mongo_db_name: str) -> None:
    alice = await player(client, "health-potion")
    bob = await player(client)
    potion = alice["items"]["health-potion"][0]
    trade = await (await offer(client, alice, bob["account_id"], offer={"items": [potion], "currency": {"soft": 5}},
                               expires_in_s=120)).json()
    created = trade["created_at"]
    assert trade["expires_at"] > created
    trades = client.app[TRADES]
    trades.clock = lambda: now() + timedelta(seconds=121)
    resp = await act(client, bob, trade["trade_id"], "accept")
    body = await resp.json()
    assert resp.status == 409 and body["code"] == "trade-not-open" and body["state"] == "expired", body
    got = await (await client.get(f"/v1/trades/{trade['trade_id']}", headers=alice["headers"])).json()
    assert got["state"] == "expired" and got["closed_by"] is None
    assert await _wallet(client, alice) == {"soft": 475, "premium": 0}
    assert (await _item(client, potion))["custody"] == "in_game"
    assert await trades.sweep() == 0  # nothing left to expire
    assert_audit_passes(mongo_url, mongo_db_name)


async def test_the_sweeper_expires_only_what_is_due(client: Any) -> None:
    alice = await player(client)
    bob = await player(client)
    short = await (await offer(client, alice, bob["account_id"], offer={"currency": {"soft": 7}},
                               expires_in_s=60)).json()
    long = await (await offer(client, alice, bob["account_id"], offer={"currency": {"soft": 9}})).json()
    trades = client.app[TRADES]
    trades.clock = lambda: now() + timedelta(seconds=61)
    assert await trades.sweep() == 1
    states = {t["trade_id"]: t["state"] for t in (await (await client.get(
        "/v1/trades", params={"role": "sent"}, headers=alice["headers"])).json())["trades"]}
    assert states == {short["trade_id"]: "expired", long["trade_id"]: "open"}
    assert await _wallet(client, alice) == {"soft": 491, "premium": 0}
    assert "elysium_commerce_trades_expired_total 1.0" in await (await client.get("/metrics")).text()


async def test_lists_filter_by_role_and_state_in_pages(client: Any) -> None:
    alice = await player(client)
    bob = await player(client)
    made = []
    for n in range(5):
        made.append((await (await offer(client, alice, bob["account_id"],
                                        offer={"currency": {"soft": n + 1}})).json())["trade_id"])
    assert (await act(client, bob, made[1], "decline")).status == 200
    seen: list[str] = []
    cursor = None
    while True:
        params = {"role": "received", "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await (await client.get("/v1/trades", params=params, headers=bob["headers"])).json()
        seen += [t["trade_id"] for t in page["trades"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))
    sent = await (await client.get("/v1/trades", params={"role": "sent", "state": "open"},
                                   headers=alice["headers"])).json()
    assert [t["trade_id"] for t in sent["trades"]] == [t for t in reversed(made) if t != made[1]]
    assert sent["next_cursor"] is None
    declined = await (await client.get("/v1/trades", params={"role": "received", "state": "declined"},
                                       headers=bob["headers"])).json()
    assert [t["trade_id"] for t in declined["trades"]] == [made[1]]
    none = await (await client.get("/v1/trades", params={"role": "sent"}, headers=bob["headers"])).json()
    assert none == {"trades": [], "next_cursor": None}


async def test_the_audit_finds_escrow_that_no_open_trade_holds(client: Any, mongo_url: str,
                                                               mongo_db_name: str) -> None:
    alice = await player(client, "health-potion")
    bob = await player(client)
    potion = alice["items"]["health-potion"][0]
    trade = await (await offer(client, alice, bob["account_id"],
                               offer={"items": [potion], "currency": {"soft": 9}})).json()
    assert_audit_passes(mongo_url, mongo_db_name)
    # A trade closed without returning its escrow: the item and the 9 soft are held for nothing.
    await client.app[STORE].trades.update_one({"_id": trade["trade_id"]}, {"$set": {"state": "declined"}})
    done = audit(mongo_url, mongo_db_name)
    assert done.returncode == 1
    assert f"escrow_item: item {potion}: is held for trade {trade['trade_id']}, which is declined" in done.stderr
    assert "escrow_balance: wallet escrow/soft: holds 9 but the open trades offer 0" in done.stderr
