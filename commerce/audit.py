"""The audit's rules over plain numbers and rows. No I/O; :mod:`commerce.store` gathers the data.

Checks: every wallet equals the sum of its ledger entries and is not negative; no ledger
entry points at a wallet that does not exist; every item has exactly one owner (an existing
account) and exactly one custody state; no capped item type has more items than its cap; every
ledger entry has a known kind, and the entries of each transfer between wallets sum to zero per
currency (see :data:`commerce.ledger.TRANSFER_KINDS`); listed items and marketplace listings
agree, and each sale has exactly its buyer's, seller's and house's entries (:func:`check_listings`,
:func:`check_sales`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

CUSTODY_STATES = ("in_game", "listed", "escrow", "withdrawing", "on_chain", "held")


@dataclass(frozen=True, order=True)
class Problem:
    code: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.code}: {self.subject}: {self.detail}"


def check_wallets(wallets: Iterable[tuple[str, str, Any]],
                  ledger_sums: Mapping[tuple[str, str], int]) -> list[Problem]:
    out: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for account, currency, balance in wallets:
        key = (account, currency)
        seen.add(key)
        subject = f"wallet {account}/{currency}"
        if isinstance(balance, bool) or not isinstance(balance, int):
            out.append(Problem("wallet_not_integer", subject, f"balance is {type(balance).__name__}, not an integer"))
            continue
        if balance < 0:
            out.append(Problem("wallet_negative", subject, f"balance {balance} is below zero"))
        total = ledger_sums.get(key, 0)
        if total != balance:
            out.append(Problem("wallet_ledger_mismatch", subject,
                               f"balance {balance} but its ledger entries sum to {total}"))
    for key in sorted(set(ledger_sums) - seen):
        out.append(Problem("ledger_without_wallet", f"wallet {key[0]}/{key[1]}",
                           f"ledger entries sum to {ledger_sums[key]} but the wallet does not exist"))
    return out


def check_items(items: Iterable[Mapping[str, Any]], accounts: set[str] | frozenset[str]) -> list[Problem]:
    out: list[Problem] = []
    for item in items:
        subject = f"item {item.get('_id')}"
        owner = item.get("owner")
        if not isinstance(owner, str) or not owner:
            out.append(Problem("item_owner", subject, f"owner must be one account id, found {owner!r}"))
        elif owner not in accounts:
            out.append(Problem("item_owner", subject, f"owner {owner} is not an account"))
        custody = item.get("custody")
        if not isinstance(custody, str) or custody not in CUSTODY_STATES:
            out.append(Problem("item_custody", subject,
                               f"custody must be one of {', '.join(CUSTODY_STATES)}, found {custody!r}"))
    return out


def check_conservation(entries: Iterable[Mapping[str, Any]],
                       source_kinds: frozenset[str], transfer_kinds: frozenset[str]) -> list[Problem]:
    """Transfers move money and never make it: their entries net to zero per transfer and currency."""
    out: list[Problem] = []
    nets: dict[tuple[str, str], int] = {}
    for e in entries:
        kind = e.get("kind")
        subject = f"ledger entry {e.get('_id')}"
        if kind in source_kinds:
            continue
        if kind not in transfer_kinds:
            out.append(Problem("ledger_kind", subject, f"kind {kind!r} is neither a source nor a transfer"))
            continue
        transfer = e.get("transfer")
        if not isinstance(transfer, str) or not transfer:
            out.append(Problem("transfer_id", subject, f"a {kind} entry needs a transfer id, found {transfer!r}"))
            continue
        key = (transfer, str(e.get("currency")))
        nets[key] = nets.get(key, 0) + int(e.get("delta") or 0)
    for (transfer, currency), net in sorted(nets.items()):
        if net != 0:
            out.append(Problem("transfer_unbalanced", f"transfer {transfer}/{currency}",
                               f"its entries sum to {net}, not 0: money was made or lost"))
    return out


def check_supply(caps: Mapping[str, int | None], counts: Mapping[str, int],
                 supply: Mapping[str, tuple[Any, Any]]) -> list[Problem]:
    """``supply`` maps a capped item type to its counter (minted, remaining)."""
    out: list[Problem] = []
    for item_type, cap in sorted(caps.items()):
        made = counts.get(item_type, 0)
        subject = f"item type {item_type}"
        if cap is None:
            continue
        if made > cap:
            out.append(Problem("supply_exceeded", subject, f"{made} items exist but the cap is {cap}"))
        if item_type not in supply:
            out.append(Problem("supply_counter", subject, "a capped type has no supply counter"))
            continue
        minted, remaining = supply[item_type]
        if minted != made or not isinstance(remaining, int) or minted + remaining != cap:
            out.append(Problem("supply_counter", subject, f"the counter says minted {minted}, remaining "
                                                          f"{remaining} but {made} items exist and the cap is {cap}"))
    return out


def check_escrow(trades: Iterable[Mapping[str, Any]], items: Iterable[Mapping[str, Any]],
                 escrow_wallets: Mapping[str, Any], currencies: Iterable[str]) -> list[Problem]:
    """Escrow holds exactly what open trades offer, and closed trades hold nothing.

    ``items`` are the items in custody ``escrow`` or naming a trade; ``escrow_wallets`` maps a
    currency to the escrow account's balance. Every escrow item is offered, by its owner, in
    exactly one open trade, and names it; every open trade's offered items are in escrow for it;
    each escrow wallet equals the sum of that currency over the open trades' offers.
    """
    out: list[Problem] = []
    states: dict[str, str] = {}
    owed: dict[str, int] = {c: 0 for c in currencies}
    offered_in: dict[str, list[str]] = {}
    offerers: dict[str, Any] = {}
    for t in trades:
        tid = str(t.get("_id"))
        states[tid] = str(t.get("state"))
        if t.get("state") != "open":
            continue
        offerers[tid] = t.get("offerer")
        offer = t.get("offer") or {}
        for currency, amount in (offer.get("currency") or {}).items():
            owed[currency] = owed.get(currency, 0) + int(amount)
        for i in offer.get("items") or []:
            offered_in.setdefault(str(i.get("id")), []).append(tid)
    held: dict[str, str] = {}
    for item in items:
        iid = str(item.get("_id"))
        subject = f"item {iid}"
        named = item.get("trade")
        if item.get("custody") != "escrow":
            out.append(Problem("escrow_item", subject, f"names trade {named} ({states.get(str(named), 'unknown')}) "
                                                       f"but is {item.get('custody')!r}, not in escrow"))
            continue
        if not isinstance(named, str) or named not in states:
            out.append(Problem("escrow_item", subject, f"is in escrow for no known trade (trade {named!r})"))
        elif states[named] != "open":
            out.append(Problem("escrow_item", subject, f"is held for trade {named}, which is {states[named]}"))
        elif named not in offered_in.get(iid, []):
            out.append(Problem("escrow_item", subject, f"is held for trade {named}, which does not offer it"))
        elif item.get("owner") != offerers[named]:
            out.append(Problem("escrow_item", subject, f"is owned by {item.get('owner')}, not by the offerer "
                                                       f"of trade {named}"))
        else:
            held[iid] = named
    for iid, tids in sorted(offered_in.items()):
        if len(tids) > 1:
            out.append(Problem("escrow_item", f"item {iid}", f"is offered in {len(tids)} open trades: "
                                                             + ", ".join(sorted(tids))))
        for tid in tids:
            if held.get(iid) != tid and len(tids) == 1:
                out.append(Problem("escrow_missing", f"trade {tid}", f"offers item {iid}, which is not in escrow "
                                                                     "for it"))
    for currency, amount in sorted(owed.items()):
        balance = escrow_wallets.get(currency, 0)
        if balance != amount:
            out.append(Problem("escrow_balance", f"wallet escrow/{currency}",
                               f"holds {balance} but the open trades offer {amount}"))
    return out


def check_listings(items: Iterable[Mapping[str, Any]], listings: Iterable[Mapping[str, Any]]) -> list[Problem]:
    """Listed items and listings agree: every ``listed`` item belongs to exactly one open listing of
    its owner; every open listing's items are ``listed`` under it and still its seller's; every
    sold listing's items carry that sale in their provenance and left the seller with it."""
    out: list[Problem] = []
    by_id = {str(i.get("_id")): i for i in items}
    by_listing = {str(x.get("_id")): x for x in listings}
    for iid, item in sorted(by_id.items()):
        subject = f"item {iid}"
        lid = item.get("listing")
        if item.get("custody") == "listed":
            listing = by_listing.get(str(lid)) if lid is not None else None
            if listing is None or listing.get("state") != "open":
                out.append(Problem("listed_item", subject, f"is listed but its listing {lid!r} is not an open "
                                                           "listing"))
            elif iid not in listing.get("items", []) or listing.get("seller") != item.get("owner"):
                out.append(Problem("listed_item", subject, f"is listed under {lid} but is not one of its seller's "
                                                           "items there"))
        elif lid is not None:
            out.append(Problem("listed_item", subject, f"is {item.get('custody')} yet names listing {lid}"))
    for lid, listing in sorted(by_listing.items()):
        subject = f"listing {lid}"
        state = listing.get("state")
        if state not in ("open", "sold", "cancelled", "expired"):
            out.append(Problem("listing_state", subject, f"state {state!r} is not a listing state"))
            continue
        for iid in listing.get("items", []):
            found = by_id.get(str(iid))
            if found is None:
                out.append(Problem("listing_item", subject, f"its item {iid} does not exist"))
            elif state == "open" and (found.get("custody") != "listed" or found.get("listing") != lid
                                      or found.get("owner") != listing.get("seller")):
                out.append(Problem("listing_item", subject, f"is open but its item {iid} is {found.get('custody')} "
                                                            f"under {found.get('listing')!r}, owned by "
                                                            f"{found.get('owner')}"))
            elif state == "sold":
                history = [p.get("sale") for p in found.get("provenance", []) if isinstance(p, Mapping)]
                if listing.get("sale") not in history:
                    out.append(Problem("listing_item", subject, f"is sold but its item {iid} has no record of "
                                                                f"sale {listing.get('sale')}"))
                elif found.get("owner") == listing.get("seller") and history[-1] == listing.get("sale"):
                    out.append(Problem("listing_item", subject, f"is sold but its item {iid} is still owned by "
                                                                "the seller"))
    return out


def check_sales(listings: Iterable[Mapping[str, Any]], entries: Iterable[Mapping[str, Any]],
                house: str) -> list[Problem]:
    """Each sold listing has its three moves: the buyer paid its total, the seller got the proceeds
    and the house the fee (no fee entry when the fee is 0); no other entry names a sale."""
    out: list[Problem] = []
    moves: dict[str, dict[str, tuple[str, int]]] = {}
    for e in entries:
        kind = str(e.get("kind"))
        if kind.startswith("market_"):
            moves.setdefault(str(e.get("transfer")), {})[kind] = (str(e.get("account")), int(e.get("delta") or 0))
    sold = {str(x.get("sale")): x for x in listings if x.get("state") == "sold"}
    for sid, listing in sorted(sold.items()):
        subject = f"sale {sid}"
        got = moves.pop(sid, {})
        total, fee = listing.get("total"), listing.get("fee")
        want = {"market_buy": (listing.get("buyer"), -int(total or 0)),
                "market_sale": (listing.get("seller"), int(total or 0) - int(fee or 0))}
        if fee:
            want["market_fee"] = (house, int(fee))
        if got != want:
            out.append(Problem("sale_entries", subject, f"its ledger entries are {got}, not {want}"))
    for sid in sorted(moves):
        out.append(Problem("sale_entries", f"sale {sid}", "has ledger entries but no sold listing"))
    return out


def check_pending(entries: Iterable[Mapping[str, Any]], house: str) -> list[Problem]:
    """Only the house's fee entries may wait to be credited (``pending``), and only with a positive amount."""
    out: list[Problem] = []
    for e in entries:
        if e.get("kind") != "market_fee" or e.get("account") != house or not isinstance(e.get("delta"), int) \
                or int(e.get("delta") or 0) <= 0:
            out.append(Problem("ledger_pending", f"ledger entry {e.get('_id')}",
                               f"a {e.get('kind')} entry of {e.get('account')} is pending; only the house's fees "
                               "wait to be credited"))
    return out


@dataclass(frozen=True)
class TokenHolding:
    """What the chain says of one token id: its total supply, what the custody address holds of it, and
    units sent to the custody address in blocks the deposit reconciler has not read yet."""

    supply: int
    custody: int
    unread_deposits: int = 0

    @property
    def outside(self) -> int:
        """Units held by players (anywhere but the custody address)."""
        return self.supply - self.custody


def check_chain(items: Iterable[Mapping[str, Any]], in_flight: Mapping[str, str],
                holdings: Mapping[str, TokenHolding]) -> list[Problem]:
    """Every item is usable in the game or held on chain, never both and never neither.

    ``items`` are item rows (``custody``, ``chain.token_id``), ``in_flight`` maps each item in
    ``withdrawing`` to its token id, and ``holdings`` are the chain's figures for every token id an
    item names. Per token: the units held by players must equal the items recorded ``on_chain``,
    give or take what is in flight (withdrawals awaiting their receipt, deposits not yet read).
    """
    on_chain: dict[str, int] = {}
    leaving: dict[str, int] = {}
    for item in items:
        custody = item.get("custody")
        if custody == "on_chain":
            token = str((item.get("chain") or {}).get("token_id", ""))
            if not token:
                continue
            on_chain[token] = on_chain.get(token, 0) + 1
        elif custody == "withdrawing" and str(item.get("_id")) in in_flight:
            token = in_flight[str(item.get("_id"))]
            leaving[token] = leaving.get(token, 0) + 1
    out: list[Problem] = []
    for token in sorted(set(holdings) | set(on_chain)):
        held = holdings.get(token)
        if held is None:
            out.append(Problem("chain_unread", f"token {token}", "the chain was not read for this token"))
            continue
        recorded = on_chain.get(token, 0)
        low = recorded - held.unread_deposits
        high = recorded + leaving.get(token, 0)
        if held.outside < low:
            out.append(Problem("item_neither", f"token {token}",
                               f"{recorded} item(s) are recorded on chain but players hold {held.outside}: "
                               "an item is neither in the game nor on chain"))
        elif held.outside > high:
            out.append(Problem("item_both", f"token {token}",
                               f"players hold {held.outside} on chain but only {recorded} item(s) are recorded "
                               f"there ({leaving.get(token, 0)} leaving): an item is in the game and on chain"))
    return out
