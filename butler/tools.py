"""The butler's tools: reads that run at once, and actions planned to exact terms, performed later.

Every tool calls the public HTTP APIs of commerce and the matchmaker as the player (their own
bearer token), never a database. An action runs in two steps so the player sees exactly what will
happen before it does: :meth:`Toolbox.plan` validates the arguments and *reads* the current terms
(the listing's price, the owned item's id, the store's price) into a :class:`Plan`, performing
nothing; :meth:`Toolbox.perform` later sends exactly those terms with the given idempotency key,
and refuses (``terms-changed``) when the price it would pay is no longer the one planned.

The guard against a model talked into something by text it read (an item description, a display
name) is structural: no tool confirms. Whether an action waits for the player is the engines'
rule (``turns.Prefs.asks``), and confirming happens only through the edge's confirm route. Text
other people wrote comes back under ``untrusted`` keys, and the tools' descriptions say it is data.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

import aiohttp

from butler import argcheck, gamerules
from butler.apis import Api
from butler.toolspecs import BY_NAME, TOOLS, Tool, ToolError
from butler.turns import READ

__all__ = ["TOOLS", "Plan", "Tool", "ToolError", "Toolbox"]

HEX32 = re.compile(r"[0-9a-f]{32}")
PAGE = 200
MAX_PAGES = 5  # an inventory is read at most 1,000 items deep
CURRENCY_WORDS = {"soft": "soft", "premium": "premium"}
REGION_LATENCY_MS = (50, 75, 100, 125, 150, 175, 200, 225)  # the player's order of preference, as latencies


@dataclass(frozen=True, slots=True)
class Plan:
    """An action's exact terms, resolved but not performed."""

    tool: str
    category: str
    terms: dict[str, Any]
    summary: str  # one plain sentence holding every term


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def _item_view(entry: dict[str, Any]) -> dict[str, Any]:
    """A catalog entry with its free text under ``untrusted``."""
    view = {k: entry.get(k) for k in ("id", "rarity", "stackable", "tradeable", "price", "supply_left",
                                      "max_per_purchase") if k in entry}
    view["untrusted"] = {"name": str(entry.get("name", ""))[:100],
                         "description": str(entry.get("description", ""))[:300]}
    return view


class Toolbox:
    """The tools, bound to commerce and the matchmaker at these URLs."""

    def __init__(self, session: aiohttp.ClientSession, commerce_url: str, matchmaker_url: str, *,
                 timeout_s: float = 5.0) -> None:
        self.commerce = Api(session, commerce_url, "commerce", timeout_s)
        self.matchmaker = Api(session, matchmaker_url, "the matchmaker", timeout_s)

    def get(self, name: str) -> Tool | None:
        return BY_NAME.get(name)

    def openai_tools(self) -> list[dict[str, Any]]:
        """The ``tools=`` parameter of a chat completion."""
        return [{"type": "function", "function": {"name": t.name, "description": t.description,
                                                  "parameters": t.parameters, "strict": False}} for t in TOOLS]

    def _checked(self, name: str, args: dict[str, Any], read: bool) -> tuple[Tool, dict[str, Any]]:
        tool = BY_NAME.get(name)
        if tool is None:
            raise ToolError("unknown-tool", f"there is no tool called {name[:64]!r}")
        if (tool.category == READ) != read:
            raise ToolError("invalid-arguments", f"{name} is {'an action' if read else 'a read'}; "
                            f"use {'plan' if read else 'read'}")
        bad = argcheck.problems(args, tool.parameters)
        if bad:
            raise ToolError("invalid-arguments", "; ".join(f"{k}: {v}" for k, v in list(bad.items())[:8]))
        cleaned: dict[str, Any] = argcheck.whole(args)
        return tool, cleaned

    # --- reads ---------------------------------------------------------------------------------

    async def read(self, name: str, args: dict[str, Any], token: str) -> dict[str, Any]:
        """Run a READ tool; :class:`ToolError` when it cannot."""
        _, args = self._checked(name, args, read=True)
        handler = getattr(self, f"_read_{name}")
        result: dict[str, Any] = await handler(args, token)
        return result

    async def _read_get_wallet(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        wallet = await self.commerce.call("GET", "/v1/me/wallet", token)
        return {"balances": wallet.get("balances", {}), "debts": wallet.get("debts", []),
                "currencies": {"soft": "coins (gold)", "premium": "gems"}}

    async def _read_get_inventory(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        items = await self._inventory(token, args.get("limit", PAGE))
        names = await self._names(token)
        return {"items": [{"id": i["id"], "item_type": i["item_id"], "custody": i.get("custody"),
                           "untrusted": {"name": names.get(i["item_id"], i["item_id"])}} for i in items],
                "count": len(items)}

    async def _read_search_catalog(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        wanted = _words(args.get("words", "")).split()
        found = [e for e in await self._catalog(token)
                 if all(w in _words(f"{e.get('id', '')} {e.get('name', '')} {e.get('description', '')}")
                        for w in wanted)]
        return {"items": [_item_view(e) for e in found[:50]], "count": len(found)}

    async def _read_search_market(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        params: dict[str, str] = {"limit": str(args.get("limit", 10))}
        if "item" in args:
            params["item_type"] = (await self._item_type(args["item"], token))["id"]
        for key in ("rarity", "currency", "min_price", "max_price", "sort"):
            if key in args:
                params[key] = str(args[key])
        page = await self.commerce.call("GET", "/v1/listings", token, params=params)
        names = await self._names(token)
        return {"listings": [{"id": x["id"], "item_type": x["item_type"], "quantity": x["quantity"],
                              "currency": x["currency"], "price": x["price"], "total": x["total"],
                              "seller": x["seller"], "expires_at": x.get("expires_at"),
                              "untrusted": {"name": names.get(x["item_type"], x["item_type"])}}
                             for x in page.get("listings", [])]}

    async def _read_explain_item(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        entry = await self._item_type(args["item"], token)
        held = [i for i in await self._inventory(token) if i["item_id"] == entry["id"]]
        return {"item": _item_view(entry),
                "owned": {"count": len(held), "items": [{"id": i["id"], "custody": i.get("custody")}
                                                        for i in held[:25]]}}

    async def _read_get_ticket(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        ticket = await self.matchmaker.call("GET", f"/v1/tickets/{_path(args['ticket_id'])}", token)
        view = {k: ticket.get(k) for k in ("id", "mode", "status", "regions", "reason", "created_ms", "expires_ms")
                if k in ticket}
        match = ticket.get("match")
        if isinstance(match, dict):  # the join token is the game client's business, not the chat's
            view["match"] = {k: match.get(k) for k in ("match_id", "region", "team", "address")}
        return view

    async def _read_get_match_history(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        page = await self.matchmaker.call("GET", "/v1/players/me/matches", token,
                                          params={"limit": str(args.get("limit", 10))})
        matches = []
        for m in page.get("items", []):
            players = m.get("players", [])
            matches.append({k: m.get(k) for k in ("match_id", "mode", "reason", "winners", "duration_s",
                                                  "ended_at_ms", "rated")}
                           | {"untrusted": {"players": players}})
        return {"matches": matches}

    async def _read_get_rating(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        answer = await self.matchmaker.call("GET", "/v1/players/me/ratings", token)
        ratings: dict[str, Any] = answer.get("ratings", {})
        if "mode" in args:
            if args["mode"] not in ratings:
                raise ToolError("unknown-mode", f"there is no mode {args['mode'][:32]!r}; modes: {', '.join(ratings)}")
            ratings = {args["mode"]: ratings[args["mode"]]}
        return {"ratings": ratings}

    async def _read_explain_rules(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        return gamerules.explain(args["mode"])

    # --- actions -------------------------------------------------------------------------------

    async def plan(self, name: str, args: dict[str, Any], token: str) -> Plan:
        """Validate an action's arguments and read its exact terms; performs nothing."""
        tool, args = self._checked(name, args, read=False)
        handler = getattr(self, f"_plan_{name}")
        terms, summary = await handler(args, token)
        return Plan(tool.name, tool.category, terms, summary)

    async def perform(self, plan: Plan, token: str, idempotency_key: str) -> dict[str, Any]:
        """Do ``plan`` with exactly its terms; the key makes a retry find the first outcome."""
        if plan.tool not in BY_NAME or BY_NAME[plan.tool].category == READ:
            raise ToolError("unknown-tool", f"there is no action called {plan.tool[:64]!r}")
        handler = getattr(self, f"_do_{plan.tool}")
        result: dict[str, Any] = await handler(plan.terms, token, idempotency_key)
        return result

    async def _plan_queue_for_match(self, args: dict[str, Any], token: str) -> tuple[dict[str, Any], str]:
        modes = [m["mode"] for m in (await self.matchmaker.call("GET", "/v1/queues", token)).get("modes", [])]
        if args["mode"] not in modes:
            raise ToolError("unknown-mode", f"there is no queue for {args['mode'][:32]!r}; modes: {', '.join(modes)}")
        regions = list(dict.fromkeys(args["regions"]))
        terms = {"mode": args["mode"], "regions": regions}
        return terms, f"Queue for a {args['mode']} match in {', '.join(regions)} (in that order of preference)."

    async def _do_queue_for_match(self, terms: dict[str, Any], token: str, key: str) -> dict[str, Any]:
        body = {"mode": terms["mode"], "regions": dict(zip(terms["regions"], REGION_LATENCY_MS))}
        ticket = await self.matchmaker.call("POST", "/v1/tickets", token, body=body, idempotency_key=key)
        return {"ticket_id": ticket.get("id"), "mode": ticket.get("mode"), "status": ticket.get("status")}

    async def _plan_buy_listing(self, args: dict[str, Any], token: str) -> tuple[dict[str, Any], str]:
        listing = await self.commerce.call("GET", f"/v1/listings/{args['listing_id']}", token)
        if listing.get("state") != "open":
            state = str(listing.get("state"))
            raise ToolError(f"listing-{state}" if state in ("sold", "cancelled", "expired") else "listing-not-active",
                            f"listing {args['listing_id']} is {state}, not for sale")
        if listing.get("seller") == _subject(token):
            raise ToolError("own-listing", "this is your own listing; cancel it in the app instead of buying it")
        names = await self._names(token)
        terms = {k: listing[k] for k in ("item_type", "quantity", "currency", "price", "total", "seller")}
        terms["listing_id"] = listing["id"]
        name = names.get(listing["item_type"], listing["item_type"])
        return terms, (f"Buy listing {listing['id']}: {listing['quantity']} x {name} ({listing['item_type']}) from "
                       f"seller {listing['seller']} for {listing['total']} {listing['currency']} in total.")

    async def _do_buy_listing(self, terms: dict[str, Any], token: str, key: str) -> dict[str, Any]:
        now = await self.commerce.call("GET", f"/v1/listings/{terms['listing_id']}", token)
        if any(now.get(k) != terms[k] for k in ("currency", "price", "total", "quantity", "item_type")):
            raise ToolError("terms-changed", f"the listing now asks {now.get('total')} {now.get('currency')}, not the "
                                             f"{terms['total']} {terms['currency']} you confirmed; nothing was bought")
        sale = await self.commerce.call("POST", f"/v1/listings/{terms['listing_id']}/purchase", token,
                                        idempotency_key=key)
        return {k: sale.get(k) for k in ("sale_id", "listing_id", "items", "currency", "price", "balance")}

    async def _plan_buy_from_store(self, args: dict[str, Any], token: str) -> tuple[dict[str, Any], str]:
        entry = await self._item_type(args["item"], token)
        currency, quantity = args["currency"], args.get("quantity", 1)
        unit = entry.get("price", {}).get(currency)
        if unit is None:
            sold = ", ".join(entry.get("price", {})) or "nothing: it is not sold"
            raise ToolError("not-for-sale", f"{entry['id']} is not sold for {currency} (it is sold for {sold})")
        terms = {"item_id": entry["id"], "currency": currency, "quantity": quantity, "unit_price": unit,
                 "total": unit * quantity}
        return terms, (f"Buy {quantity} x {entry.get('name', entry['id'])} ({entry['id']}) from the store for "
                       f"{unit * quantity} {currency} in total.")

    async def _do_buy_from_store(self, terms: dict[str, Any], token: str, key: str) -> dict[str, Any]:
        entry = await self.commerce.call("GET", f"/v1/catalog/{_path(terms['item_id'])}", token)
        if entry.get("price", {}).get(terms["currency"]) != terms["unit_price"]:
            raise ToolError("terms-changed", f"the store's price of {terms['item_id']} changed since you confirmed; "
                                             "nothing was bought")
        bought = await self.commerce.call("POST", "/v1/purchases", token, idempotency_key=key,
                                          body={"item_id": terms["item_id"], "currency": terms["currency"],
                                                "quantity": terms["quantity"]})
        return {k: bought.get(k) for k in ("purchase_id", "price", "balance", "items")}

    async def _plan_list_item(self, args: dict[str, Any], token: str) -> tuple[dict[str, Any], str]:
        item, name = await self._owned(args["item"], token)
        terms = {"item": item["id"], "item_type": item["item_id"], "price": args["price"],
                 "currency": args["currency"]}
        return terms, (f"List your {name} (item {item['id']}) on the marketplace for {args['price']} "
                       f"{args['currency']}.")

    async def _do_list_item(self, terms: dict[str, Any], token: str, key: str) -> dict[str, Any]:
        listing = await self.commerce.call("POST", "/v1/listings", token, idempotency_key=key,
                                           body={"item": terms["item"], "price": terms["price"],
                                                 "currency": terms["currency"]})
        return {k: listing.get(k) for k in ("id", "item_type", "price", "currency", "state", "expires_at")}

    async def _plan_offer_trade(self, args: dict[str, Any], token: str) -> tuple[dict[str, Any], str]:
        receiver_id, receiver_name = await self._player(args["receiver"], token)
        offered: list[str] = []
        offered_names: list[str] = []
        for ref in args.get("offer_items", []):
            item, name = await self._owned(ref, token, exclude=offered)
            offered.append(item["id"])
            offered_names.append(name)
        offer: dict[str, Any] = {"items": offered, "currency": dict(args.get("offer_currency", {}))}
        request: dict[str, Any] = {"items": list(args.get("request_items", [])),
                                   "currency": dict(args.get("request_currency", {}))}
        if not any(offer.values()) and not any(request.values()):
            raise ToolError("invalid-arguments", "a trade offers or requests something: items or currency")
        terms = {"receiver_id": receiver_id, "offer": offer, "request": request}
        gives = offered_names + [f"{n} {c}" for c, n in offer["currency"].items()]
        wants = [f"item {i}" for i in request["items"]] + [f"{n} {c}" for c, n in request["currency"].items()]
        return terms, (f"Offer player {receiver_name} ({receiver_id}) a trade: you give "
                       f"{', '.join(gives) or 'nothing'} and ask for {', '.join(wants) or 'nothing'}.")

    async def _do_offer_trade(self, terms: dict[str, Any], token: str, key: str) -> dict[str, Any]:
        body: dict[str, Any] = {"receiver_id": terms["receiver_id"]}
        for side in ("offer", "request"):
            part = {k: v for k, v in terms[side].items() if v}
            if part:
                body[side] = part
        trade = await self.commerce.call("POST", "/v1/trades", token, body=body, idempotency_key=key)
        return {k: trade.get(k) for k in ("trade_id", "receiver_id", "state", "expires_at")}

    async def _plan_withdraw_item(self, args: dict[str, Any], token: str) -> tuple[dict[str, Any], str]:
        item, name = await self._owned(args["item"], token)
        terms = {"item": item["id"], "item_type": item["item_id"]}
        return terms, f"Withdraw your {name} (item {item['id']}) to your linked wallet as a token on chain."

    async def _do_withdraw_item(self, terms: dict[str, Any], token: str, key: str) -> dict[str, Any]:
        return await self.commerce.call("POST", f"/v1/me/items/{terms['item']}/withdraw", token, idempotency_key=key)

    # --- look-ups ------------------------------------------------------------------------------

    async def _catalog(self, token: str) -> list[dict[str, Any]]:
        items = (await self.commerce.call("GET", "/v1/catalog", token)).get("items", [])
        return [i for i in items if isinstance(i, dict) and isinstance(i.get("id"), str)]

    async def _names(self, token: str) -> dict[str, str]:
        return {e["id"]: str(e.get("name", e["id"]))[:100] for e in await self._catalog(token)}

    async def _item_type(self, ref: str, token: str) -> dict[str, Any]:
        """The catalog entry ``ref`` names: its id, its name, or the one entry whose name holds its words."""
        catalog = await self._catalog(token)
        wanted = _words(ref)
        singular = wanted[:-1] if wanted.endswith("s") else wanted
        for want in (wanted, singular):
            exact = [e for e in catalog if want in (_words(e["id"]), _words(str(e.get("name", ""))))]
            if exact:
                return exact[0]
        words = singular.split()
        loose = [e for e in catalog if words and all(w in _words(f"{e['id']} {e.get('name', '')}") for w in words)]
        if len(loose) == 1:
            return loose[0]
        if loose:
            raise ToolError("ambiguous-item", f"{ref[:64]!r} could be {', '.join(e['id'] for e in loose[:5])}")
        raise ToolError("not-found", f"there is no item type {ref[:64]!r} in the catalog")

    async def _inventory(self, token: str, limit: int = PAGE * MAX_PAGES) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        params = {"limit": str(min(limit, PAGE))}
        for _ in range(MAX_PAGES):
            page = (await self.commerce.call("GET", "/v1/me/items", token, params=params)).get("items", [])
            out += page
            if len(page) < PAGE or len(out) >= limit:
                break
            params["before"] = page[-1]["id"]
        return out[:limit]

    async def _owned(self, ref: str, token: str, exclude: list[str] | None = None) -> tuple[dict[str, Any], str]:
        """One of the player's items in the game, named by its id or its type; and its type's name."""
        items = await self._inventory(token)
        if HEX32.fullmatch(ref):
            found = [i for i in items if i["id"] == ref]
            if not found:
                raise ToolError("not-owned", f"you own no item {ref}")
        else:
            entry = await self._item_type(ref, token)
            found = [i for i in items if i["item_id"] == entry["id"]]
            if not found:
                raise ToolError("not-owned", f"you own no {entry.get('name', entry['id'])}")
        names = await self._names(token)
        usable = [i for i in found if i.get("custody") == "in_game" and i["id"] not in (exclude or [])]
        if not usable:
            raise ToolError("item-unavailable", f"your {names.get(found[0]['item_id'], found[0]['item_id'])} is "
                                                f"{found[0].get('custody')}, not in the game")
        item = usable[-1]  # the oldest: pages are newest first
        return item, names.get(item["item_id"], item["item_id"])

    async def _player(self, ref: str, token: str) -> tuple[str, str]:
        """(id, display name) of a friend named ``ref`` by display name, or of the player with that id."""
        friends = (await self.commerce.call("GET", "/v1/me/friends", token)).get("friends", [])
        named = [f for f in friends if _words(str(f.get("display_name", ""))) == _words(ref)]
        if len(named) == 1:
            return str(named[0]["id"]), str(named[0]["display_name"])[:32]
        if len(named) > 1:
            raise ToolError("ambiguous-player", f"more than one friend is called {ref[:32]!r}; name them by id")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", ref):
            raise ToolError("player-not-found", f"no friend is called {ref[:32]!r}; name another player by id")
        profile = await self.commerce.call("GET", f"/v1/players/{ref}", token)
        return ref, str(profile.get("display_name", ref))[:32]


def _subject(token: str) -> str | None:
    """The account a player token names, read without checking it: only to spare a doomed proposal
    (the services check the token on every call that matters)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    sub = claims.get("sub") if isinstance(claims, dict) else None
    return sub if isinstance(sub, str) else None


def _path(segment: str) -> str:
    """A path segment that cannot leave its place in the URL."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", segment) or segment in (".", ".."):
        raise ToolError("not-found", "there is no such thing")
    return segment
