"""The trade rules and the escrow audit, driven without sockets or databases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from commerce import audit, trading
from commerce.trading import Effect
from commerce.validation import Invalid

A, B = "a" * 32, "b" * 32


def test_the_state_machine_is_its_table() -> None:
    assert trading.step("open", "accept", "receiver").to == "accepted"
    assert trading.step("open", "accept", "receiver").effect is Effect.SWAP
    assert trading.step("open", "decline", "receiver").to == "declined"
    assert trading.step("open", "cancel", "offerer").to == "cancelled"
    assert trading.step("open", "cancel", "receiver").to == "cancelled"
    assert trading.step("open", "expire", "sweeper").effect is Effect.RETURN
    for event, role in (("accept", "offerer"), ("decline", "offerer"), ("expire", "receiver"), ("cancel", "sweeper")):
        with pytest.raises(trading.TradeRefused) as exc:
            trading.step("open", event, role)  # type: ignore[arg-type]
        assert exc.value.code == "wrong-trade-party"
    for state in trading.STATES[1:]:
        for event in trading.EVENTS:
            with pytest.raises(trading.TradeRefused) as exc:
                trading.step(state, event, "receiver")
            assert exc.value.code == "trade-not-open"
    # Only an open trade moves, and every move closes it.
    assert {t.state for t in trading.TRANSITIONS} == {"open"}
    assert all(t.to != "open" for t in trading.TRANSITIONS)


def test_terms_are_parsed_strictly() -> None:
    terms = trading.parse_terms({"receiver_id": "r", "offer": {"items": [A], "currency": {"premium": 2, "soft": 1}},
                                 "request": {"items": [B]}, "expires_in_s": 60.0}, 3600)
    assert terms.offer.items == (A,) and terms.offer.currency == (("soft", 1), ("premium", 2))
    assert terms.request.items == (B,) and terms.request.currency == () and terms.expires_in_s == 60
    same = trading.parse_terms({"receiver_id": "r", "offer": {"currency": {"soft": 1, "premium": 2}, "items": [A]},
                                "request": {"items": [B]}, "expires_in_s": 60}, 3600)
    assert same.fingerprint() == terms.fingerprint()
    with pytest.raises(Invalid) as exc:
        trading.parse_terms({"receiver_id": "r", "offer": {"items": [A, A, "x"], "currency": {"soft": 0}},
                             "expires_in_s": 3601}, 3600)
    assert set(exc.value.errors) == {"offer.items[1]", "offer.items[2]", "offer.currency.soft", "expires_in_s"}
    with pytest.raises(Invalid) as exc:
        trading.parse_terms({"receiver_id": "r", "offer": {"currency": {}}, "request": {}}, 3600)
    assert set(exc.value.errors) == {"offer.currency", "request"}
    with pytest.raises(Invalid) as exc:
        trading.parse_terms({"receiver_id": "r"}, 3600)
    assert set(exc.value.errors) == {""}


def test_cursors_round_trip_and_refuse_forgeries() -> None:
    at = datetime(2026, 12, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert trading.decode_cursor(trading.encode_cursor(at, A)) == (at, A)
    cursor = trading.encode_cursor(at, A)
    assert len(cursor) == 32
    for bad in ("", "!!", "YWJj", cursor + "x", cursor[:-1], cursor[:-1] + "="):
        with pytest.raises(ValueError):
            trading.decode_cursor(bad)
    # Every string of a cursor's shape is some position, the latest ones past every trade.
    assert trading.decode_cursor("_" * 32)[0].year == 9999


def test_trade_ids_are_scoped_to_the_offerer() -> None:
    assert trading.trade_id("p1", "k") == trading.trade_id("p1", "k") != trading.trade_id("p2", "k")
    assert trading.closing_key("p1", "k") != trading.closing_key("p2", "k")


def _trade(tid: str, state: str, items: list[str], soft: int = 0) -> dict[str, Any]:
    return {"_id": tid, "state": state, "offerer": "alice",
            "offer": {"items": [{"id": i, "type": "t"} for i in items], "currency": {"soft": soft} if soft else {}}}


def test_the_escrow_audit_passes_what_is_consistent() -> None:
    trades = [_trade("t1", "open", ["i1"], 5), _trade("t2", "accepted", ["i2"], 7), _trade("t3", "open", [], 3)]
    items = [{"_id": "i1", "owner": "alice", "custody": "escrow", "trade": "t1"}]
    assert audit.check_escrow(trades, items, {"soft": 8, "premium": 0}, ("soft", "premium")) == []


def test_the_escrow_audit_names_what_is_wrong() -> None:
    trades = [_trade("t1", "open", ["i1", "i4"], 5), _trade("t2", "accepted", ["i2"]), _trade("t3", "open", ["i1"])]
    items = [{"_id": "i1", "owner": "alice", "custody": "escrow", "trade": "t1"},
             {"_id": "i2", "owner": "bob", "custody": "escrow", "trade": "t2"},
             {"_id": "i3", "owner": "bob", "custody": "in_game", "trade": "t2"},
             {"_id": "i5", "owner": "bob", "custody": "escrow"}]
    found = {(p.code, p.subject) for p in audit.check_escrow(trades, items, {"soft": 4}, ("soft", "premium"))}
    assert found == {("escrow_item", "item i1"),  # offered in two open trades
                     ("escrow_item", "item i2"),  # held for a closed trade
                     ("escrow_item", "item i3"),  # names a trade, out of escrow
                     ("escrow_item", "item i5"),  # in escrow for no trade
                     ("escrow_missing", "trade t1"),  # offers i4, which is not in escrow
                     ("escrow_balance", "wallet escrow/soft")}
