"""The marketplace routes (/v1/listings), their OpenAPI operations, and the expiry sweeper's lifetime.

:func:`add_routes` adds the routes and a ``cleanup_ctx`` step that runs this replica's
sweeper (after the MongoDB step, whose store it uses).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from commerce import catalog, ledger, market
from commerce.api import ITEM_UID, _body, _limit, _query, player
from commerce.appkeys import ECONOMY, SETTINGS, STATUS, STORE
from commerce.errors import Problem
from commerce.listings import Listings
from commerce.validation import Field
from elysium import numbers
from elysium.http import idempotency_key, json_response

log = logging.getLogger("commerce.market")
MARKET = web.AppKey("market", Listings)

CREATE = {"item": Field(str, required=False, pattern=ITEM_UID),
          "item_type": Field(str, required=False, pattern=catalog.ITEM_ID),
          "quantity": Field(int, required=False, min=1, max=catalog.MAX_STACK_PURCHASE),
          "currency": Field(str, choices=ledger.CURRENCIES),
          "price": Field(int, min=1, max=ledger.MAX_AMOUNT),
          "expires_in_s": Field(int, required=False, min=market.MIN_EXPIRY_S, max=365 * 86_400)}
PURCHASE: dict[str, Field] = {}  # the listing is named by the path; a body, if any, must be {}
SEARCH_PARAMS = ("item_type", "rarity", "currency", "seller", "min_price", "max_price", "sort", "limit", "cursor")
SELLER = r"[A-Za-z0-9_-]{1,64}"


def _listing_id(request: web.Request) -> str:
    lid = request.match_info["listing_id"]
    if not re.fullmatch(ITEM_UID, lid):
        raise Problem("unknown-listing", "there is no such listing")
    return lid


def _replayed(outcome: Any, status: int = 201) -> web.Response:
    return json_response(outcome.body, 200 if outcome.replayed else status,
                         {"Idempotent-Replayed": "true" if outcome.replayed else "false"})


async def create_listing(request: web.Request) -> web.Response:
    seller = player(request)
    key = idempotency_key(request)
    body = await _body(request, CREATE)
    if ("item" in body) == ("item_type" in body):
        raise Problem("invalid-request", "name exactly one of item (an item id) or item_type (with a quantity)",
                      errors={"item": "give item or item_type, not both or neither"})
    if "item" in body and body.get("quantity", 1) != 1:
        raise Problem("invalid-request", "an item id lists that one item",
                      errors={"quantity": "must be 1 (or left out) with item"})
    max_s = request.app[SETTINGS].market_max_expiry_s
    if body.get("expires_in_s", market.MIN_EXPIRY_S) > max_s:
        raise Problem("expiry-limit", f"a listing stays open at most {max_s} s (ELYSIUM_COMMERCE_MARKET_MAX_EXPIRY_S)")
    outcome = await request.app[MARKET].create(seller, key, item=body.get("item"), item_type=body.get("item_type"),
                                               quantity=body.get("quantity", 1), currency=body["currency"],
                                               price=body["price"], expires_in_s=body.get("expires_in_s"))
    return _replayed(outcome)


def _search(request: web.Request) -> market.Search:
    q = request.query
    errors: dict[str, str] = {}
    for name in SEARCH_PARAMS:
        if len(q.getall(name, [])) > 1:
            errors[name] = "give it once"
    checks = {"item_type": catalog.ITEM_ID, "seller": SELLER}
    for name, pattern in checks.items():
        if name in q and not re.fullmatch(pattern, q[name]):
            errors[name] = "has characters or a shape that is not allowed"
    choices: dict[str, tuple[str, ...]] = {"rarity": catalog.RARITIES, "currency": ledger.CURRENCIES,
                                           "sort": market.SORTS}
    for name, allowed in choices.items():
        if name in q and q[name] not in allowed:
            errors[name] = "must be one of " + ", ".join(allowed)
    prices: dict[str, int] = {}
    for name in ("min_price", "max_price"):
        if name in q:
            try:
                prices[name] = numbers.whole(q[name], name, 1, ledger.MAX_AMOUNT)
            except numbers.NumberError as exc:
                errors[name] = str(exc)
    if errors:
        raise Problem("invalid-request", "the search has invalid parameters", errors=errors)
    search = market.Search(sort=q.get("sort", "newest"), item_type=q.get("item_type"),  # type: ignore[arg-type]
                           rarity=q.get("rarity"), currency=q.get("currency"), seller=q.get("seller"),
                           min_price=prices.get("min_price"), max_price=prices.get("max_price"))
    try:
        market.check_search(search)
    except market.MarketError as exc:
        raise Problem(exc.code, str(exc), errors={"currency": str(exc)}) from None
    return search


async def search_listings(request: web.Request) -> web.Response:
    _query(request, *SEARCH_PARAMS)
    search = _search(request)
    return json_response(await request.app[MARKET].search(search, request.query.get("cursor"), _limit(request)))


async def get_listing(request: web.Request) -> web.Response:
    _query(request)
    return json_response(await request.app[MARKET].detail(_listing_id(request)))


async def purchase_listing(request: web.Request) -> web.Response:
    buyer = player(request)
    key = idempotency_key(request)
    lid = _listing_id(request)
    if request.body_exists:
        await _body(request, PURCHASE)
    return _replayed(await request.app[MARKET].purchase(buyer, lid, key))


async def cancel_listing(request: web.Request) -> web.Response:
    seller = player(request)
    return json_response(await request.app[MARKET].cancel(seller, _listing_id(request)))


async def _market(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    store = app[STORE]
    listings = Listings(store, app[ECONOMY], settings.market_fee_bps, settings.market_max_expiry_s)
    app[MARKET] = listings
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(listings.run_sweeper(stop, settings.market_sweep_interval_s),
                                                  name="listing-sweeper")
    yield
    stop.set()
    try:  # a round cut short leaves its listing open or its fees pending: each step is one transaction
        await asyncio.wait_for(task, app[STATUS].drain_left_s(settings.drain_timeout_s))
    except TimeoutError:
        log.warning("not closed within the drain time", extra={"what": "listing sweeper"})


def add_routes(app: web.Application) -> None:
    app.cleanup_ctx.append(_market)
    r = app.router
    r.add_post("/v1/listings", create_listing)
    r.add_get("/v1/listings", search_listings)
    r.add_get("/v1/listings/{listing_id}", get_listing)
    r.add_delete("/v1/listings/{listing_id}", cancel_listing)
    r.add_post("/v1/listings/{listing_id}/purchase", purchase_listing)


# --- OpenAPI -----------------------------------------------------------------------------------

def openapi() -> tuple[dict[str, Any], dict[str, Any]]:
    """The marketplace's paths and component schemas for the service's OpenAPI document."""
    from commerce import openapi as doc

    currency = {"enum": list(ledger.CURRENCIES)}
    when = {"type": "string", "format": "date-time"}
    window = {"type": "object", "properties": {
        "sales": {"type": "integer"}, "units": {"type": "integer"}, "turnover": {"type": "integer"},
        "min": {"type": ["integer", "null"]}, "max": {"type": ["integer", "null"]},
        "median": {"type": ["integer", "null"], "description": "the lower median of the unit prices"}}}
    stats = {"type": "object", "properties": {
        "last": {"type": ["object", "null"], "properties": {"unit_price": {"type": "integer"},
                                                             "quantity": {"type": "integer"}, "at": when}},
        "24h": window, "7d": window}}
    listing = {"type": "object", "properties": {
        "id": {"type": "string"}, "seller": {"type": "string"}, "item_type": {"type": "string"},
        "rarity": {"enum": list(catalog.RARITIES)}, "quantity": {"type": "integer"},
        "items": {"type": "array", "items": {"type": "string"}}, "currency": currency,
        "price": {"type": "integer", "description": "per unit"},
        "total": {"type": "integer", "description": "price x quantity: what the buyer pays"},
        "fee_bps": {"type": "integer", "description": "the house's fee, fixed when the listing was made"},
        "state": {"enum": list(market.STATES)}, "created_at": when, "expires_at": when, "closed_at": when,
        "buyer": {"type": "string"}, "sale_id": {"type": "string"}, "fee": {"type": "integer"},
        "proceeds": {"type": "integer"}}}
    schemas = {
        "Listing": listing,
        "ListingDetail": {"allOf": [doc._ref("Listing"), {"type": "object", "properties": {
            "provenance": {"type": "array", "items": {"type": "object", "properties": {
                "item": {"type": "string"}, "origin": {"type": ["string", "null"]},
                "previous_owners": {"type": "array", "items": {"type": "string"}},
                "sales": {"type": "array", "items": {"type": "object", "properties": {
                    "price": {"type": "integer"}, "currency": currency, "at": when}}}}}},
            "price_stats": {"type": "object", "properties": {c: stats for c in ledger.CURRENCIES}}}}]},
        "ListingPage": {"type": "object", "properties": {
            "listings": {"type": "array", "items": doc._ref("Listing")},
            "next": {"type": ["string", "null"], "description": "the cursor of the next page; null on the last"}}},
        "Sale": {"type": "object", "properties": {
            "sale_id": {"type": "string"}, "listing_id": {"type": "string"}, "item_type": {"type": "string"},
            "items": {"type": "array", "items": {"type": "string"}}, "quantity": {"type": "integer"},
            "currency": currency, "price": {"type": "integer"}, "balance": {"type": "integer"},
            "seller": {"type": "string"}}},
    }
    lid = {"name": "listing_id", "in": "path", "required": True,
           "schema": {"type": "string", "pattern": f"^{ITEM_UID}$"}}

    def param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}

    search_params = [
        param("item_type", {"type": "string", "pattern": f"^{catalog.ITEM_ID}$"}, "only this item type"),
        param("rarity", {"enum": list(catalog.RARITIES)}, "only this rarity"),
        param("currency", currency, "only prices in this currency; required by a price order or range"),
        param("seller", {"type": "string", "pattern": f"^{SELLER}$"}, "only this seller's listings"),
        param("min_price", {"type": "integer", "minimum": 1, "maximum": ledger.MAX_AMOUNT}, "unit price at least"),
        param("max_price", {"type": "integer", "minimum": 1, "maximum": ledger.MAX_AMOUNT}, "unit price at most"),
        param("sort", {"enum": list(market.SORTS)}, "newest (the default), oldest, price_asc or price_desc"),
        doc.LIMIT,
        param("cursor", {"type": "string", "maxLength": 200},
              "the next value of the previous page, with the same sort (and filters); other strings: 400")]
    create = doc.object_schema(CREATE)
    create["description"] = ("exactly one of item (an item id, lists that item) or item_type (with quantity, "
                              "lists that many of a stackable type, oldest first); price is per unit, and "
                              f"price x quantity past {ledger.MAX_AMOUNT} is 409 price-limit; expires_in_s past "
                              "the deployment's ELYSIUM_COMMERCE_MARKET_MAX_EXPIRY_S is 409 expiry-limit")
    create["oneOf"] = [{"required": ["item"], "not": {"required": ["item_type"]},
                        "properties": {"quantity": {"const": 1}}},
                       {"required": ["item_type"], "not": {"required": ["item"]}}]
    purchase = doc._op("purchaseListing", "market", "Buy a whole listing: the buyer pays its total, the seller "
                                                    "gets it less the fee, the house the fee", 201,
                       doc._ref("Sale"), (401, 404, 409, 422, 503), auth="player", body=doc.object_schema(PURCHASE),
                       params=[doc.IDEMPOTENCY, lid], replay=True)
    purchase["requestBody"]["required"] = False
    paths = {
        "/v1/listings": {
            "post": doc._op("createListing", "market", "List an owned item, or a quantity of a stackable, for sale",
                            201, doc._ref("Listing"), (401, 404, 409, 422, 503), auth="player", body=create,
                            params=[doc.IDEMPOTENCY], replay=True),
            "get": doc._op("searchListings", "market", "Open listings, filtered and sorted, in cursor pages", 200,
                           doc._ref("ListingPage"), (400,), params=search_params)},
        "/v1/listings/{listing_id}": {
            "get": doc._op("getListing", "market", "A listing with its items' provenance and price statistics "
                                                   "of its item type", 200, doc._ref("ListingDetail"), (400, 404),
                           params=[lid]),
            "delete": doc._op("cancelListing", "market", "Cancel one's open listing: its items return to the game "
                                                         "(again: the same answer)", 200, doc._ref("Listing"),
                              (401, 403, 404, 409, 503), auth="player", params=[lid])},
        "/v1/listings/{listing_id}/purchase": {"post": purchase},
    }
    return paths, schemas
