"""The marketplace against MongoDB: listings, purchases, cancels, the expiry sweeper, search and detail.

Each event of a listing is one transaction whose first write is the conditional update of the
listing on ``state: "open"`` (:mod:`commerce.market` holds the rules). Two events racing for
one listing (fifty buyers, a buyer and the seller's cancel, two replicas' sweepers) conflict
on that document: one commits, the others retry, read the closed state and answer ``409``
having changed nothing. Listed items move with conditional updates on their custody, so an
item that left ``in_game`` meanwhile cannot be listed, and one not ``listed`` under this
listing cannot be sold.

A sale's money moves are three ledger entries of transfer kinds sharing the sale id as their
``transfer``: the buyer's debit, the seller's proceeds and the house's fee, netting to zero.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError, PyMongoError

from commerce import ledger, market
from commerce.catalog import ItemType
from commerce.economy import Economy, Outcome, Replay
from commerce.errors import Problem
from commerce.store import Conflict, Doc, Session, Store, now

log = logging.getLogger("commerce.listings")

STATS_SALES = 10_000  # newest sales of one item type and currency read for the 7-day statistics
PROVENANCE_ITEMS = 20  # items of a lot whose history a detail answer carries


def _ms(at: datetime) -> datetime:
    """A time as MongoDB stores it (milliseconds), so a first answer and its replays agree."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def _refusal(exc: market.MarketError) -> Problem:
    return Problem(exc.code, str(exc))


async def ensure_house(store: Store, s: Session, currency: str) -> None:
    """Inside a transaction: the house account and its wallets, made when its first fee is settled.

    Made when first needed rather than at start, so a deployment without sales has no house.
    Two replicas settling at once both try; one commits, the other's duplicate key retries and finds it.
    """
    if await store.wallets.find_one({"_id": ledger.wallet_id(market.HOUSE, currency)}, {"_id": 1}, session=s):
        return
    at = now()
    if await store.accounts.find_one({"_id": market.HOUSE}, {"_id": 1}, session=s) is None:
        await store.accounts.insert_one(
            {"_id": market.HOUSE, "system": True, "username": market.HOUSE, "username_lower": market.HOUSE_USERNAME,
             "display_name": "House", "created_at": at, "updated_at": at}, session=s)
    for c in ledger.CURRENCIES:
        wid = ledger.wallet_id(market.HOUSE, c)
        if await store.wallets.find_one({"_id": wid}, {"_id": 1}, session=s) is None:
            await store.wallets.insert_one({"_id": wid, "account": market.HOUSE, "currency": c, "balance": 0,
                                            "updated_at": at}, session=s)


class Listings:
    """Marketplace operations. ``clock`` is injectable: expiry is tested by moving it, not by sleeping."""

    def __init__(self, store: Store, economy: Economy, fee_bps: int, max_expiry_s: int,
                 clock: Callable[[], datetime] = now) -> None:
        self.store = store
        self.economy = economy
        self.fee_bps = fee_bps
        self.max_expiry_s = max_expiry_s
        self.clock = clock
        self.expired = 0  # listings this replica's sweeper expired, for metrics and tests

    # --- create ----------------------------------------------------------------------------

    async def _replay_listing(self, lid: str, fp: str) -> Outcome:
        doc = await self.store.listings.find_one({"_id": lid})
        if doc is None:
            raise Problem("busy", "the first request with this Idempotency-Key is still settling; retry")
        if doc.get("fingerprint") != fp:
            raise Problem("idempotency-key-reused", "this Idempotency-Key was used for a different request; "
                                                    "use a new key")
        return Outcome(market.listing_body(doc), replayed=True)

    async def create(self, seller: str, key: str, *, item: str | None, item_type: str | None, quantity: int,
                     currency: str, price: int, expires_in_s: int | None) -> Outcome:
        lid = market.listing_id(seller, key)
        fp = ledger.fingerprint({"item": item, "item_type": item_type, "quantity": quantity, "currency": currency,
                                 "price": price, "expires_in_s": expires_in_s})
        if await self.store.listings.find_one({"_id": lid}, {"_id": 1}):
            return await self._replay_listing(lid, fp)
        try:
            total = market.total_price(price, quantity)
        except market.MarketError as exc:
            raise Problem("price-limit", str(exc)) from None

        async def body(s: Session) -> Outcome:
            at = _ms(self.clock())
            try:
                expires_at = market.expiry(at, expires_in_s, self.max_expiry_s)
            except market.MarketError as exc:
                raise Problem(exc.code, str(exc), errors={"expires_in_s": "out of range"}) from None
            ids, kind = await self._pick(s, seller, item, item_type, quantity)
            doc: Doc = {"_id": lid, "seller": seller, "item_type": kind.id, "rarity": kind.rarity,
                        "items": ids, "quantity": quantity, "currency": currency, "price": price, "total": total,
                        "fee_bps": self.fee_bps, "state": "open", "created_at": at, "expires_at": expires_at,
                        "fingerprint": fp}
            try:
                await self.store.listings.insert_one(doc, session=s)
            except DuplicateKeyError:
                raise Replay(lid) from None
            done = await self.store.items.update_many(
                {"_id": {"$in": ids}, "owner": seller, "custody": "in_game"},
                {"$set": {"custody": "listed", "listing": lid}}, session=s)
            if done.modified_count != len(ids):
                raise Conflict(lid)  # an item left in_game meanwhile: the retry reads it again
            return Outcome(market.listing_body(doc), replayed=False)

        try:
            return await self.store.transaction(body)
        except (Replay, Problem) as exc:
            if isinstance(exc, Replay) or await self.store.listings.find_one({"_id": lid}, {"_id": 1}):
                return await self._replay_listing(lid, fp)
            raise

    async def _pick(self, s: Session, seller: str, item: str | None, item_type: str | None,
                    quantity: int) -> tuple[list[str], ItemType]:
        """The seller's items to list: the one named, or ``quantity`` of a type (oldest first)."""
        if item is not None:
            doc = await self.store.items.find_one({"_id": item, "owner": seller}, {"type": 1, "custody": 1},
                                                  session=s)
            if doc is None:
                raise Problem("unknown-owned-item", "item must be the id of an item you own")
            kind = await self._kind(s, str(doc["type"]))
            if doc["custody"] != "in_game":
                raise Problem("item-unavailable", f"the item is {doc['custody']}, not in_game; only items in the "
                                                  "game can be listed")
            return [item], kind
        assert item_type is not None
        kind = await self._kind(s, item_type)
        if quantity > 1 and not kind.stackable:
            raise Problem("invalid-request", f"{kind.id} is not stackable: list one at a time",
                          errors={"quantity": "must be 1 for an item type that does not stack"})
        cursor = self.store.items.find({"owner": seller, "type": kind.id, "custody": "in_game"}, {"_id": 1},
                                       session=s).sort([("created_at", 1), ("_id", 1)]).limit(quantity)
        ids = [d["_id"] async for d in cursor]
        if len(ids) < quantity:
            if not ids and not await self.store.items.find_one({"owner": seller, "type": kind.id}, {"_id": 1},
                                                               session=s):
                raise Problem("unknown-owned-item", f"you own no {kind.id}")
            raise Problem("item-unavailable", f"you have {len(ids)} {kind.id} in the game, fewer than {quantity}")
        return ids, kind

    async def _kind(self, s: Session, item_type: str) -> ItemType:
        kind = await self.store.get_item(item_type, session=s)
        if kind is None:
            raise Problem("unknown-item", f"there is no item type {item_type[:64]}")
        if not kind.tradeable:
            raise Problem("item-not-tradeable", f"{kind.id} cannot change hands")
        return kind

    # --- purchase --------------------------------------------------------------------------

    async def _replay_sale(self, eid: str, fp: str) -> Outcome:
        entry = await self.store.ledger.find_one({"_id": eid})
        if entry is None:
            raise Problem("busy", "the first request with this Idempotency-Key is still settling; retry")
        if entry.get("fingerprint") != fp:
            raise Problem("idempotency-key-reused", "this Idempotency-Key was used for a different request; "
                                                    "use a new key")
        listing = await self.store.listings.find_one({"_id": entry["listing"]})
        assert listing is not None
        return Outcome(self._sale_body(listing, entry), replayed=True)

    @staticmethod
    def _sale_body(listing: Doc, entry: Doc) -> dict[str, Any]:
        return {"sale_id": entry["transfer"], "listing_id": listing["_id"], "item_type": listing["item_type"],
                "items": list(listing["items"]), "quantity": listing["quantity"], "currency": listing["currency"],
                "price": listing["total"], "balance": entry["balance_after"], "seller": listing["seller"]}

    async def purchase(self, buyer: str, lid: str, key: str) -> Outcome:
        eid = ledger.entry_id("market_buy", buyer, key)
        sid = market.sale_id(buyer, key)
        fp = ledger.fingerprint({"listing": lid})
        if await self.store.ledger.find_one({"_id": eid}, {"_id": 1}):
            return await self._replay_sale(eid, fp)
        # A listing already closed is refused without a transaction: losers of a race come back
        # often. The transaction below checks again, so this read only saves work.
        seen = await self.store.listings.find_one({"_id": lid}, {"state": 1})
        if seen is not None and seen["state"] in market.CLOSED_CODES:
            raise Problem(market.CLOSED_CODES[seen["state"]], f"the listing is already {seen['state']}")

        async def body(s: Session) -> Outcome:
            at = _ms(self.clock())
            listing = await self.store.listings.find_one({"_id": lid}, session=s)
            if listing is None:
                raise Problem("unknown-listing", "there is no such listing")
            try:
                market.next_state(listing["state"], "purchase")
            except market.MarketError as exc:
                raise _refusal(exc) from None
            if listing["expires_at"] <= at:
                raise Problem("listing-expired", "the listing has expired")
            seller = str(listing["seller"])
            if seller == buyer:
                raise Problem("own-listing", "you cannot buy your own listing; cancel it instead")
            sale = market.split(int(listing["total"]), int(listing["fee_bps"]))
            closed = await self.store.listings.update_one(
                {"_id": lid, "state": "open"},
                {"$set": {"state": "sold", "buyer": buyer, "sale": sid, "fee": sale.fee, "proceeds": sale.proceeds,
                          "closed_at": at}}, session=s)
            if closed.matched_count != 1:
                raise Conflict(lid)
            currency = listing["currency"]
            common = {"transfer": sid, "listing": lid, "ref": lid, "items": list(listing["items"])}
            reason = f"{listing['quantity']} x {listing['item_type']}"
            entry: Doc = {"_id": eid, "kind": "market_buy", "reason": f"bought {reason}", "fingerprint": fp,
                          **common}
            await self.economy._move(s, ledger.Change(ledger.AccountId(buyer), currency, -sale.total), entry)
            await self.economy._move(s, ledger.Change(ledger.AccountId(seller), currency, sale.proceeds), {
                "_id": ledger.entry_id("market_sale", buyer, key), "kind": "market_sale", "reason": f"sold {reason}",
                **common})
            await self._hand_over(s, listing, buyer, sid, at)
            await self.store.sales.insert_one(
                {"_id": sid, "listing": lid, "item_type": listing["item_type"], "currency": currency,
                 "unit_price": listing["price"], "quantity": listing["quantity"], "seller": seller, "buyer": buyer,
                 "fee": sale.fee, "at": at}, session=s)
            if sale.fee:
                # The house's entry is written now but credited to its wallet by the settler
                # (settle_fees): were every sale to write the one house wallet, all sales would
                # conflict on it. ``pending`` entries are not yet in the wallet's balance.
                await self.store.ledger.insert_one(
                    {"_id": ledger.entry_id("market_fee", buyer, key), "kind": "market_fee",
                     "reason": f"fee on {reason}", **common, "account": market.HOUSE, "currency": currency,
                     "delta": sale.fee, "balance_after": None, "pending": True, "at": at}, session=s)
            listing.update(state="sold", buyer=buyer, sale=sid, fee=sale.fee, proceeds=sale.proceeds, closed_at=at)
            return Outcome(self._sale_body(listing, entry), replayed=False)

        try:
            return await self.store.transaction(body)
        except (Replay, Problem) as exc:
            if isinstance(exc, Replay) or await self.store.ledger.find_one({"_id": eid}, {"_id": 1}):
                return await self._replay_sale(eid, fp)
            raise

    async def _hand_over(self, s: Session, listing: Doc, buyer: str, sid: str, at: datetime) -> None:
        """The listed items become the buyer's, in the game, each with this sale in its provenance."""
        kind = await self.store.get_item(str(listing["item_type"]), session=s)
        seller = listing["seller"]
        change: Doc = {"$set": {"owner": buyer, "custody": "in_game"}, "$unset": {"listing": ""},
                       "$push": {"provenance": {"owner": seller, "sale": sid, "price": listing["price"],
                                                "currency": listing["currency"], "at": at}}}
        if kind is None or not kind.stackable:
            if await self.store.items.find_one({"unique_owner": f"{buyer}|{listing['item_type']}"}, {"_id": 1},
                                               session=s):
                raise Problem("already-owned", f"you already own a {listing['item_type']}")
            change["$set"]["unique_owner"] = f"{buyer}|{listing['item_type']}"
        done = await self.store.items.update_many(
            {"_id": {"$in": list(listing["items"])}, "owner": seller, "custody": "listed", "listing": listing["_id"]},
            change, session=s)
        if done.modified_count != len(listing["items"]):
            raise Conflict(listing["_id"])

    # --- the house's fees --------------------------------------------------------------------

    async def settle_fees(self, batch: int = 100) -> int:
        """Credit pending fee entries to the house wallets, a batch per transaction; how many were settled.

        One transaction reads a batch of pending entries of one currency, adds them to the house
        wallet (compare-and-set, with each entry's ``balance_after``) and clears their ``pending``,
        so every fee is credited exactly once even with every replica settling at the same time
        (they conflict on the wallet; the loser retries and finds the entries settled).
        """
        count = 0
        for currency in ledger.CURRENCIES:
            while True:
                async def body(s: Session) -> int:
                    due = [e async for e in self.store.ledger.find(
                        {"pending": True, "account": market.HOUSE, "currency": currency}, {"delta": 1},
                        session=s).sort("_id", 1).limit(batch)]
                    if not due:
                        return 0
                    await ensure_house(self.store, s, currency)
                    wid = ledger.wallet_id(market.HOUSE, currency)
                    wallet = await self.store.wallets.find_one({"_id": wid}, {"balance": 1}, session=s)
                    assert wallet is not None
                    balance = int(wallet["balance"])
                    for e in due:
                        balance = ledger.apply(balance, ledger.Change(market.HOUSE, currency, int(e["delta"])))
                        done = await self.store.ledger.update_one(
                            {"_id": e["_id"], "pending": True},
                            {"$set": {"balance_after": balance}, "$unset": {"pending": ""}}, session=s)
                        if done.modified_count != 1:
                            raise Conflict(e["_id"])
                    done = await self.store.wallets.update_one(
                        {"_id": wid, "balance": int(wallet["balance"])},
                        {"$set": {"balance": balance, "updated_at": now()}}, session=s)
                    if done.matched_count != 1:
                        raise Conflict(wid)
                    return len(due)

                settled = await self.store.transaction(body)
                count += settled
                if settled < batch:
                    break
        return count

    # --- cancel and expiry -----------------------------------------------------------------

    async def _close(self, s: Session, listing: Doc, state: market.State, at: datetime) -> None:
        """Inside a transaction: close an open listing without a sale and give its items back."""
        closed = await self.store.listings.update_one({"_id": listing["_id"], "state": "open"},
                                                      {"$set": {"state": state, "closed_at": at}}, session=s)
        if closed.matched_count != 1:
            raise Conflict(listing["_id"])
        done = await self.store.items.update_many(
            {"_id": {"$in": list(listing["items"])}, "owner": listing["seller"], "custody": "listed",
             "listing": listing["_id"]},
            {"$set": {"custody": "in_game"}, "$unset": {"listing": ""}}, session=s)
        if done.modified_count != len(listing["items"]):
            raise Conflict(listing["_id"])
        listing.update(state=state, closed_at=at)

    async def cancel(self, seller: str, lid: str) -> dict[str, Any]:
        """Cancel one's own open listing. Cancelling it again answers the same (a retried DELETE)."""

        async def body(s: Session) -> dict[str, Any]:
            listing = await self.store.listings.find_one({"_id": lid}, session=s)
            if listing is None:
                raise Problem("unknown-listing", "there is no such listing")
            if listing["seller"] != seller:
                raise Problem("forbidden", "only the seller can cancel a listing")
            if listing["state"] == "cancelled":
                return market.listing_body(listing)
            try:
                market.next_state(listing["state"], "cancel")
            except market.MarketError as exc:
                raise _refusal(exc) from None
            await self._close(s, listing, "cancelled", _ms(self.clock()))
            return market.listing_body(listing)

        return await self.store.transaction(body)

    async def expire_one(self, lid: str) -> bool:
        """Expire one listing if it is open and past its time; False when it is not (or another replica did it)."""

        async def body(s: Session) -> bool:
            at = _ms(self.clock())
            listing = await self.store.listings.find_one({"_id": lid, "state": "open", "expires_at": {"$lte": at}},
                                                         session=s)
            if listing is None:
                return False
            await self._close(s, listing, "expired", at)
            return True

        done = await self.store.transaction(body)
        if done:
            self.expired += 1
        return done

    async def sweep(self, batch: int = 100) -> int:
        """Expire every open listing past its time, a batch at a time; how many this call expired."""
        count = 0
        while True:
            due = [d["_id"] async for d in self.store.listings.find(
                {"state": "open", "expires_at": {"$lte": self.clock()}}, {"_id": 1}).sort("expires_at", 1).limit(batch)]
            for lid in due:
                count += await self.expire_one(lid)
            if len(due) < batch:
                return count

    async def run_sweeper(self, stop: asyncio.Event, interval_s: float) -> None:
        """Expire due listings and settle the house's fees every ``interval_s`` until ``stop``;
        a failed round is logged and tried again."""
        while not stop.is_set():
            try:
                await self.sweep()
                await self.settle_fees()
            except (PyMongoError, Problem, ledger.MoneyError) as exc:
                log.warning("listing sweep failed; retrying", extra={"error": str(exc)[:200]})
            except Exception:  # our bug: logged with its traceback; the sweeper keeps running
                log.exception("listing sweep failed unexpectedly; retrying")
            try:
                await asyncio.wait_for(stop.wait(), interval_s)
            except TimeoutError:
                pass

    # --- reads -----------------------------------------------------------------------------

    async def search(self, search: market.Search, cursor: str | None, limit: int) -> dict[str, Any]:
        try:
            after = market.decode_cursor(cursor, search.sort) if cursor is not None else None
            q, order = market.query(search, after)
        except market.MarketError as exc:
            raise Problem(exc.code, str(exc), errors={"cursor" if "cursor" in str(exc) else "query": str(exc)}) \
                from None
        docs = [d async for d in self.store.listings.find(q).sort(order).limit(limit + 1)]
        page = docs[:limit]
        out: dict[str, Any] = {"listings": [market.listing_body(d) for d in page], "next": None}
        if len(docs) > limit:
            field, _ = market.SORT_KEYS[search.sort]
            out["next"] = market.encode_cursor(search.sort, page[-1][field], page[-1]["_id"])
        return out

    async def detail(self, lid: str) -> dict[str, Any]:
        listing = await self.store.listings.find_one({"_id": lid})
        if listing is None:
            raise Problem("unknown-listing", "there is no such listing")
        items = [i async for i in self.store.items.find(
            {"_id": {"$in": list(listing["items"])[:PROVENANCE_ITEMS]}}, {"origin": 1, "provenance": 1})]
        provenance = [{"item": i["_id"], "origin": i.get("origin", {}).get("kind"),
                       "previous_owners": [p["owner"] for p in i.get("provenance", [])],
                       "sales": [{"price": p["price"], "currency": p["currency"], "at": p["at"].isoformat()}
                                 for p in i.get("provenance", [])]} for i in sorted(items, key=lambda i: i["_id"])]
        return {**market.listing_body(listing), "provenance": provenance,
                "price_stats": await self.stats(str(listing["item_type"]))}

    async def stats(self, item_type: str) -> dict[str, Any]:
        at = self.clock()
        out: dict[str, Any] = {}
        for currency in ledger.CURRENCIES:
            rows = [market.Sale(int(d["unit_price"]), int(d["quantity"]), d["at"]) async for d in self.store.sales.find(
                {"item_type": item_type, "currency": currency, "at": {"$gt": at - timedelta(days=7)}},
                {"unit_price": 1, "quantity": 1, "at": 1}).sort("at", DESCENDING).limit(STATS_SALES)]
            last_doc = await self.store.sales.find_one({"item_type": item_type, "currency": currency},
                                                       {"unit_price": 1, "quantity": 1, "at": 1},
                                                       sort=[("at", DESCENDING)])
            last = None if last_doc is None else market.Sale(int(last_doc["unit_price"]), int(last_doc["quantity"]),
                                                             last_doc["at"])
            out[currency] = market.price_stats(rows, at, last)
        return out
