"""The offline engine: the butler without a language model (no ``OPENAI_API_KEY``).

It parses the player's message with :mod:`butler.intents` (English only, deterministic), drives
the same tools under the same rule as the model engine, and answers in plain sentences. The rule:
a READ tool runs at once; any other tool is planned (exact terms, nothing done), then either
proposed (the player confirms it in the app: ``POST /v1/chat/confirm``) or, when the player's
settings let its category run without asking (only ``queue`` can), performed at once with a
fresh idempotency key. Nothing a tool answers is parsed: a listing's or a player's text can only
be shown, never obeyed. Usage is zero: no tokens are spent.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from butler import intents
from butler.proposals import Proposals
from butler.tools import Plan, ToolError, Toolbox
from butler.turns import DONE, PROPOSAL, READ, TEXT, TOOL_END, TOOL_START, Event, Turn

ZERO_USAGE = {"prompt_tokens": 0, "completion_tokens": 0}


class OfflineEngine:
    """Implements ``turns.Engine`` with the intent parser; ``observe(tool, outcome)`` feeds metrics."""

    def __init__(self, toolbox: Toolbox, proposals: Proposals, *,
                 observe: Callable[[str, str], None] | None = None) -> None:
        self.toolbox = toolbox
        self.proposals = proposals
        self.observe = observe or (lambda tool, outcome: None)

    async def run(self, turn: Turn) -> AsyncIterator[Event]:
        turn.new_messages.append({"role": "user", "content": turn.message})
        lines: list[str] = []
        if not turn.prefs.language.lower().startswith("en"):
            lines.append("I speak only English while I work offline, so I answer in English.")
        intent = intents.parse(turn.message)
        if intent.tool == intents.HELP:
            if "reason" in intent.args:
                lines.append(f"{intent.args['reason']}.")
            lines.append(intents.HELP_LINE)
        else:
            async for event in self._act(turn, intent, lines):
                yield event
        reply = " ".join(lines)
        turn.new_messages.append({"role": "assistant", "content": reply})
        yield Event(TEXT, {"delta": reply})
        yield Event(DONE, {"message": reply, "usage": dict(ZERO_USAGE)})

    async def _act(self, turn: Turn, intent: intents.Intent, lines: list[str]) -> AsyncIterator[Event]:
        if intent.tool == intents.BUY_CHEAPEST:
            found: dict[str, Any] | None = None
            currencies = [intent.args["currency"]] if "currency" in intent.args else ["soft", "premium"]
            for currency in currencies:
                args = {"item": intent.args["item"], "currency": currency, "sort": "price_asc", "limit": 1}
                result: dict[str, Any] | None = None
                async for event in self._call(turn, "search_market", args, lines, quiet=True):
                    if event.type == TOOL_END and event.data["outcome"] == "ok":
                        result = event.data["result"]
                    yield event
                if result is None:
                    return
                if result["listings"]:
                    found = result["listings"][0]
                    break
            if found is None:
                lines.append(f"Nobody is selling {intent.args['item']} on the marketplace right now.")
                return
            intent = intents.Intent("buy_listing", {"listing_id": found["id"]})
        async for event in self._call(turn, intent.tool, intent.args, lines):
            yield event

    async def _call(self, turn: Turn, name: str, args: dict[str, Any], lines: list[str], *,
                    quiet: bool = False) -> AsyncIterator[Event]:
        """One tool call under the rule, its events, and the sentence it adds to the reply."""
        call_id = "call_" + uuid.uuid4().hex[:24]
        yield Event(TOOL_START, {"call_id": call_id, "tool": name, "arguments": args})
        tool = self.toolbox.get(name)
        try:
            if tool is None or tool.category == READ:
                result = await self.toolbox.read(name, args, turn.token)
                outcome = "ok"
                if not quiet:
                    lines.append(describe(name, result))
            else:
                plan = await self.toolbox.plan(name, args, turn.token)
                if turn.prefs.asks(plan.category):
                    proposal = await self.proposals.create(turn.player_id, plan)
                    yield Event(PROPOSAL, proposal.body())
                    result = {"proposal_id": proposal.id, "summary": plan.summary,
                              "status": "awaiting the player's confirmation in the app; it cannot be confirmed here"}
                    outcome = "proposed"
                    lines.append(f"{plan.summary} Confirm it in the app to go ahead; nothing happens until you do.")
                else:
                    result = await self.toolbox.perform(plan, turn.token, uuid.uuid4().hex)
                    outcome = "ok"
                    lines.append(done(plan, result))
        except ToolError as exc:
            self.observe(name, "error")
            lines.append(f"I could not do that: {exc.detail} ({exc.code}).")
            yield Event(TOOL_END, {"call_id": call_id, "tool": name, "outcome": "error", "result": exc.body()})
            return
        self.observe(name, outcome)
        yield Event(TOOL_END, {"call_id": call_id, "tool": name, "outcome": outcome, "result": result})


def _money(balances: dict[str, Any]) -> str:
    return f"{balances.get('soft', 0)} soft (coins) and {balances.get('premium', 0)} premium (gems)"


def describe(tool: str, r: dict[str, Any]) -> str:
    """A READ tool's result in one or two plain sentences (text others wrote is quoted, as data)."""
    if tool == "get_wallet":
        return f"You have {_money(r['balances'])}."
    if tool == "get_inventory":
        if not r["items"]:
            return "You own no items yet."
        return "You own: " + "; ".join(f"\"{i['untrusted']['name']}\" ({i['item_type']}, {i['custody']}, id {i['id']})"
                                       for i in r["items"][:20]) + "."
    if tool == "search_catalog":
        if not r["items"]:
            return "The store has nothing like that."
        return "The store has: " + "; ".join(f"\"{i['untrusted']['name']}\" ({i['id']}, {_price(i['price'])})"
                                             for i in r["items"][:20]) + "."
    if tool == "search_market":
        if not r["listings"]:
            return "There are no listings like that on the marketplace."
        return "On the marketplace: " + "; ".join(
            f"listing {x['id']}: {x['quantity']} x \"{x['untrusted']['name']}\" for {x['total']} {x['currency']}"
            for x in r["listings"]) + "."
    if tool == "explain_item":
        item, owned = r["item"], r["owned"]
        return (f"\"{item['untrusted']['name']}\" ({item['id']}, {item.get('rarity')}): "
                f"\"{item['untrusted']['description']}\" Price: {_price(item.get('price', {}))}. "
                f"You hold {owned['count']}.")
    if tool == "get_ticket":
        return f"Ticket {r.get('id')} for {r.get('mode')} is {r.get('status')}."
    if tool == "get_match_history":
        if not r["matches"]:
            return "You have no finished matches yet."
        return "Your recent matches: " + "; ".join(f"{m['mode']} ({m['match_id']}, ended by {m['reason']})"
                                                   for m in r["matches"][:10]) + "."
    if tool == "get_rating":
        return "Your ratings: " + "; ".join(f"{mode} {v['ordinal']} after {v['matches']} matches"
                                            for mode, v in r["ratings"].items()) + "."
    if tool == "explain_rules":
        if not r["known"]:
            return f"I don't know a mode called \"{r['mode']}\": {r['detail']}."
        return (f"{r['mode']} ({r['players']}): {r['goal']}. Controls: {r['controls']}. "
                f"It ends when {r['ending']}.")
    return "Done."


def _price(price: dict[str, Any]) -> str:
    return " or ".join(f"{n} {c}" for c, n in price.items()) or "not sold in the store"


def done(plan: Plan, result: dict[str, Any]) -> str:
    """What an action performed at once did."""
    if plan.tool == "queue_for_match":
        return f"You are queued for {plan.terms['mode']} (ticket {result.get('ticket_id')}, {result.get('status')})."
    return f"Done: {plan.summary}"
