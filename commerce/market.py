"""The marketplace's rules over plain data: the listing state machine, the fee, price statistics,
listing ids, the search plan (which index serves which query) and page cursors. No I/O;
:mod:`commerce.listings` runs them against MongoDB.

A listing is ``open`` from the moment it is created until exactly one of three events closes
it: a purchase (``sold``), its seller's cancel (``cancelled``) or its expiry (``expired``).
Closed states are final. Every event is one conditional update on ``state: "open"``, so two
events racing for one listing cannot both happen.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from commerce import ledger

HOUSE = ledger.AccountId("house")  # the system account that receives the fees; it never logs in or sells
HOUSE_USERNAME = "system:house"  # its unique username key: no username a player can register (no ':')

State = Literal["open", "sold", "cancelled", "expired"]
Event = Literal["purchase", "cancel", "expire"]
STATES: tuple[State, ...] = ("open", "sold", "cancelled", "expired")

# (state, event) -> (next state, who may cause it). Only ``open`` has ways out.
TRANSITIONS: dict[tuple[State, Event], tuple[State, str]] = {
    ("open", "purchase"): ("sold", "any player but the seller"),
    ("open", "cancel"): ("cancelled", "the seller"),
    ("open", "expire"): ("expired", "the sweeper, once expires_at has passed"),
}
# The problem code answering an event on a listing already closed.
CLOSED_CODES: dict[State, str] = {"sold": "listing-sold", "cancelled": "listing-cancelled",
                                  "expired": "listing-expired"}

MAX_FEE_BPS = 5_000  # the setting's upper bound: half of a sale at most
MIN_EXPIRY_S = 60


class MarketError(Exception):
    """A rule refuses the event. ``code`` is a problem code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def next_state(state: str, event: Event) -> State:
    """The state after ``event``, or :class:`MarketError` naming why it cannot happen now."""
    if state in CLOSED_CODES:
        raise MarketError(CLOSED_CODES[state], f"the listing is already {state}")  # type: ignore[index]
    found = TRANSITIONS.get((state, event))  # type: ignore[arg-type]
    if found is None:
        raise MarketError("invalid-request", f"a listing in state {state!r} has no {event} event")
    return found[0]


@dataclass(frozen=True, slots=True)
class Split:
    """How a sale's total is shared: ``proceeds`` to the seller, ``fee`` to the house."""

    total: int
    proceeds: int
    fee: int


def split(total: int, fee_bps: int) -> Split:
    """The fee is ``total * fee_bps / 10,000`` rounded down (the remainder stays with the seller)."""
    if total < 0 or not 0 <= fee_bps <= 10_000:
        raise ValueError("total must be >= 0 and fee_bps in 0..10000")
    fee = total * fee_bps // 10_000
    return Split(total, total - fee, fee)


def total_price(unit_price: int, quantity: int) -> int:
    """What a buyer pays for the whole lot; refused past :data:`ledger.MAX_AMOUNT`."""
    total = unit_price * quantity
    if total > ledger.MAX_AMOUNT:
        raise MarketError("invalid-request", f"price x quantity is {total}, more than {ledger.MAX_AMOUNT}")
    return total


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def listing_id(seller: str, key: str) -> str:
    """The id of the listing a seller's request with this Idempotency-Key creates (32 hex digits)."""
    return _digest("listing", seller, key)


def sale_id(buyer: str, key: str) -> str:
    """The id of the sale a buyer's purchase with this Idempotency-Key makes: the ``transfer`` of its entries."""
    return "sale:" + _digest("sale", buyer, key)


def expiry(created_at: datetime, expires_in_s: int | None, max_s: int) -> datetime:
    """When a listing expires: after ``expires_in_s`` (MIN_EXPIRY_S..max_s), by default after ``max_s``."""
    seconds = max_s if expires_in_s is None else expires_in_s
    if not MIN_EXPIRY_S <= seconds <= max_s:
        raise MarketError("invalid-request", f"expires_in_s must be between {MIN_EXPIRY_S} and {max_s}")
    return created_at + timedelta(seconds=seconds)


# --- price statistics --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Sale:
    unit_price: int
    quantity: int
    at: datetime


def _window(sales: Sequence[Sale]) -> dict[str, int | None]:
    prices = [s.unit_price for s in sales]
    return {"sales": len(sales), "units": sum(s.quantity for s in sales),
            "turnover": sum(s.unit_price * s.quantity for s in sales),
            "min": min(prices) if prices else None, "max": max(prices) if prices else None,
            "median": statistics.median_low(prices) if prices else None}


def price_stats(sales: Iterable[Sale], at: datetime, last: Sale | None = None) -> dict[str, Any]:
    """Unit-price statistics of one item type in one currency: the last sale ever (``last``, or the
    newest of ``sales``) and, over the 24 hours and 7 days before ``at``, count, units, turnover,
    min, max and median (the lower median, so it is a price somebody paid)."""
    recent = sorted((s for s in sales if s.at <= at), key=lambda s: s.at)
    newest = last if last is not None else (recent[-1] if recent else None)
    day = [s for s in recent if s.at > at - timedelta(hours=24)]
    week = [s for s in recent if s.at > at - timedelta(days=7)]
    return {"last": None if newest is None else {"unit_price": newest.unit_price, "quantity": newest.quantity,
                                                 "at": newest.at.isoformat()},
            "24h": _window(day), "7d": _window(week)}


# --- search: filters, sorts, indexes and cursors ------------------------------------------------

Sort = Literal["newest", "oldest", "price_asc", "price_desc"]
SORTS: tuple[Sort, ...] = ("newest", "oldest", "price_asc", "price_desc")
# sort -> (field, direction: 1 ascending, -1 descending); ``_id`` breaks ties the same way.
SORT_KEYS: dict[Sort, tuple[str, int]] = {"newest": ("created_at", -1), "oldest": ("created_at", 1),
                                          "price_asc": ("price", 1), "price_desc": ("price", -1)}
EQUALITY_FILTERS = ("item_type", "rarity", "currency", "seller")

# Every open-listing query is ``state`` + at most one leading equality field (+ currency for a
# price order, which only means something within one currency) + the sort field + _id. One
# compound index per (leading field, sort field), so each query walks one index range in order.
INDEXES: tuple[tuple[tuple[str, int], ...], ...] = (
    (("state", 1), ("created_at", -1), ("_id", -1)),
    (("state", 1), ("currency", 1), ("created_at", -1), ("_id", -1)),
    (("state", 1), ("currency", 1), ("price", 1), ("_id", 1)),
    (("state", 1), ("item_type", 1), ("created_at", -1), ("_id", -1)),
    (("state", 1), ("item_type", 1), ("currency", 1), ("price", 1), ("_id", 1)),
    (("state", 1), ("rarity", 1), ("created_at", -1), ("_id", -1)),
    (("state", 1), ("rarity", 1), ("currency", 1), ("price", 1), ("_id", 1)),
    (("state", 1), ("seller", 1), ("created_at", -1), ("_id", -1)),
    (("state", 1), ("seller", 1), ("currency", 1), ("price", 1), ("_id", 1)),
    (("state", 1), ("expires_at", 1)),  # the sweeper
)


@dataclass(frozen=True)
class Search:
    """A browse request, already validated field by field."""

    sort: Sort = "newest"
    item_type: str | None = None
    rarity: str | None = None
    currency: str | None = None
    seller: str | None = None
    min_price: int | None = None
    max_price: int | None = None

    def filters(self) -> dict[str, str]:
        return {f: v for f in EQUALITY_FILTERS if (v := getattr(self, f)) is not None}


def check_search(search: Search) -> None:
    """A price order or range needs a currency (soft and premium prices do not compare)."""
    priced = search.sort in ("price_asc", "price_desc") or search.min_price is not None \
        or search.max_price is not None
    if priced and search.currency is None:
        raise MarketError("invalid-request", "a price order or price range needs currency=soft or currency=premium")
    if search.min_price is not None and search.max_price is not None and search.min_price > search.max_price:
        raise MarketError("invalid-request", "min_price is above max_price")


def index_for(search: Search) -> tuple[tuple[str, int], ...]:
    """The index that serves ``search``: its leading fields are equalities of the query, then the sort."""
    field, _ = SORT_KEYS[search.sort]
    filters = search.filters()
    lead = next((f for f in ("item_type", "rarity", "seller") if f in filters), None)
    want = ["state"] + ([lead] if lead else []) + (["currency"] if field == "price" else []) + [field, "_id"]
    for index in INDEXES:
        if [name for name, _ in index] == want:
            return index
    raise AssertionError(f"no index for {want}")  # test_market_core checks every combination


def query(search: Search, after: tuple[Any, str] | None) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    """The MongoDB filter and sort of one page: open listings matching ``search`` after the cursor."""
    check_search(search)
    q: dict[str, Any] = {"state": "open", **search.filters()}
    if search.min_price is not None or search.max_price is not None:
        bounds: dict[str, int] = {}
        if search.min_price is not None:
            bounds["$gte"] = search.min_price
        if search.max_price is not None:
            bounds["$lte"] = search.max_price
        q["price"] = bounds
    field, direction = SORT_KEYS[search.sort]
    if after is not None:
        value, last_id = after
        op = "$gt" if direction == 1 else "$lt"
        page = {"$or": [{field: {op: value}}, {field: value, "_id": {op: last_id}}]}
        q = {"$and": [q, page]} if field in q else {**q, **page}
    return q, [(field, direction), ("_id", direction)]


CURSOR_VERSION = 1


def encode_cursor(sort: Sort, value: Any, last_id: str) -> str:
    """An opaque cursor: the sort and the last listing's sort key and id (a time as epoch ms)."""
    key = int(value.timestamp() * 1000) if isinstance(value, datetime) else value
    raw = json.dumps([CURSOR_VERSION, sort, key, last_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, sort: Sort) -> tuple[Any, str]:
    """The (sort key, id) a cursor carries; :class:`MarketError` when it is not one for ``sort``."""
    bad = MarketError("invalid-request", "cursor is not one this API gave for this sort")
    if len(cursor) > 200:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise bad from None
    if not isinstance(data, list) or len(data) != 4 or data[0] != CURSOR_VERSION or data[1] != sort:
        raise bad
    _, _, key, last_id = data
    if not isinstance(last_id, str) or len(last_id) != 32 or any(c not in "0123456789abcdef" for c in last_id):
        raise bad
    if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key <= 2 ** 53:
        raise bad
    field, _ = SORT_KEYS[sort]
    if field == "created_at":
        return datetime.fromtimestamp(key / 1000, UTC), last_id
    return key, last_id


# --- listing documents ---------------------------------------------------------------------------

def listing_body(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A listing as the API answers it."""
    out: dict[str, Any] = {
        "id": doc["_id"], "seller": doc["seller"], "item_type": doc["item_type"], "rarity": doc["rarity"],
        "quantity": doc["quantity"], "items": list(doc["items"]), "currency": doc["currency"],
        "price": doc["price"], "total": doc["total"], "fee_bps": doc["fee_bps"], "state": doc["state"],
        "created_at": doc["created_at"].isoformat(), "expires_at": doc["expires_at"].isoformat()}
    if doc.get("closed_at") is not None:
        out["closed_at"] = doc["closed_at"].isoformat()
    if doc["state"] == "sold":
        out.update(buyer=doc["buyer"], sale_id=doc["sale"], fee=doc["fee"], proceeds=doc["proceeds"])
    return out
