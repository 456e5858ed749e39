"""The marketplace's pure rules (commerce/market.py), driven without a database."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from commerce import market


def test_only_an_open_listing_has_events() -> None:
    assert market.next_state("open", "purchase") == "sold"
    assert market.next_state("open", "cancel") == "cancelled"
    assert market.next_state("open", "expire") == "expired"
    for state, code in market.CLOSED_CODES.items():
        for event in ("purchase", "cancel", "expire"):
            with pytest.raises(market.MarketError) as exc:
                market.next_state(state, event)
            assert exc.value.code == code


@pytest.mark.parametrize("total,bps,fee", [(100, 500, 5), (19, 500, 0), (20, 500, 1), (1, 5000, 0),
                                           (10 ** 9, 5000, 5 * 10 ** 8), (0, 500, 0), (999, 0, 0)])
def test_the_fee_rounds_down_and_the_parts_add_up(total: int, bps: int, fee: int) -> None:
    s = market.split(total, bps)
    assert (s.fee, s.proceeds + s.fee) == (fee, total)


def test_totals_are_bounded() -> None:
    assert market.total_price(10, 100) == 1000
    with pytest.raises(market.MarketError):
        market.total_price(10 ** 8, 11)


def test_ids_are_stable_and_scoped() -> None:
    assert market.listing_id("a", "k") == market.listing_id("a", "k") != market.listing_id("b", "k")
    assert market.sale_id("a", "k").startswith("sale:") and market.sale_id("a", "k") != market.sale_id("a", "j")


def test_expiry_is_bounded() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert market.expiry(at, None, 3600) == at + timedelta(hours=1)
    assert market.expiry(at, 60, 3600) == at + timedelta(minutes=1)
    for bad in (59, 3601, 0, -5):
        with pytest.raises(market.MarketError):
            market.expiry(at, bad, 3600)


def test_price_statistics_over_windows() -> None:
    at = datetime(2026, 1, 8, tzinfo=UTC)
    sales = [market.Sale(10, 1, at - timedelta(hours=1)), market.Sale(30, 2, at - timedelta(hours=2)),
             market.Sale(20, 1, at - timedelta(hours=23)), market.Sale(99, 5, at - timedelta(days=3)),
             market.Sale(1, 1, at - timedelta(days=8)), market.Sale(7, 1, at + timedelta(hours=1))]
    stats = market.price_stats(sales, at)
    assert stats["last"]["unit_price"] == 10
    assert stats["24h"] == {"sales": 3, "units": 4, "turnover": 10 + 60 + 20, "min": 10, "max": 30, "median": 20}
    assert stats["7d"]["sales"] == 4 and stats["7d"]["median"] == 20 and stats["7d"]["max"] == 99
    empty = market.price_stats([], at)
    assert empty["last"] is None and empty["24h"]["median"] is None and empty["7d"]["units"] == 0


def test_every_search_has_an_index_whose_prefix_is_its_equalities_then_its_sort() -> None:
    names = [[n for n, _ in index] for index in market.INDEXES]
    for sort in market.SORTS:
        for chosen in itertools.product(*[(None, "x")] * len(market.EQUALITY_FILTERS)):
            fields = dict(zip(market.EQUALITY_FILTERS, chosen))
            if sort.startswith("price"):
                fields["currency"] = "soft"
            search = market.Search(sort=sort, **fields)  # type: ignore[arg-type]
            index = [n for n, _ in market.index_for(search)]
            assert index in names
            field, direction = market.SORT_KEYS[sort]
            assert index[-2:] == [field, "_id"]
            equal = set(index[:-2])
            assert equal <= {"state", *search.filters()}  # only fields the query fixes precede the sort
            q, order = market.query(search, None)
            assert order == [(field, direction), ("_id", direction)]
            assert q["state"] == "open"


def test_price_orders_and_ranges_need_a_currency() -> None:
    for search in (market.Search(sort="price_asc"), market.Search(min_price=3), market.Search(max_price=3),
                   market.Search(currency="soft", min_price=5, max_price=4)):
        with pytest.raises(market.MarketError):
            market.check_search(search)


def test_cursors_round_trip_and_refuse_anything_else() -> None:
    at = datetime(2026, 1, 1, 12, 0, 0, 123000, tzinfo=UTC)
    lid = "ab" * 16
    assert market.decode_cursor(market.encode_cursor("newest", at, lid), "newest") == (at, lid)
    assert market.decode_cursor(market.encode_cursor("price_asc", 42, lid), "price_asc") == (42, lid)
    for cursor, sort in [(market.encode_cursor("newest", at, lid), "oldest"), ("", "newest"), ("!!", "newest"),
                         (market.encode_cursor("price_asc", -1, lid), "price_asc"),
                         (market.encode_cursor("price_asc", True, lid), "price_asc"),
                         (market.encode_cursor("price_asc", 5, "Z" * 32), "price_asc"), ("x" * 201, "newest")]:
        with pytest.raises(market.MarketError):
            market.decode_cursor(cursor, sort)  # type: ignore[arg-type]


def test_a_page_after_a_cursor_continues_past_ties() -> None:
    q, _ = market.query(market.Search(sort="price_asc", currency="soft", min_price=2), (5, "c" * 32))
    assert q == {"$and": [{"state": "open", "currency": "soft", "price": {"$gte": 2}},
                          {"$or": [{"price": {"$gt": 5}}, {"price": 5, "_id": {"$gt": "c" * 32}}]}]}
    q, _ = market.query(market.Search(sort="newest"), (datetime(2026, 1, 1, tzinfo=UTC), "c" * 32))
    assert q["$or"][0] == {"created_at": {"$lt": datetime(2026, 1, 1, tzinfo=UTC)}}
