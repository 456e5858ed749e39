"""The offline parser, table-driven: what each common request becomes, and that it is pure."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from butler import intents
from butler.intents import BUY_CHEAPEST, HELP, Intent, parse
from butler.argcheck import problems
from butler.toolspecs import BY_NAME

HEX = "0123456789abcdef" * 2

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("what's in my inventory?", "get_inventory", {}),
    ("What’s in my inventory", "get_inventory", {}),
    ("show me my items", "get_inventory", {}),
    ("how much premium do I have", "get_wallet", {}),
    ("how many gems do i have?", "get_wallet", {}),
    ("what's my balance", "get_wallet", {}),
    ("sell my ember blade for 50 gold", "list_item", {"item": "ember blade", "price": 50, "currency": "soft"}),
    ("Sell my Ember Blade for 50 gems", "list_item", {"item": "ember blade", "price": 50, "currency": "premium"}),
    ("list the speed boots at 300 coins each", "list_item", {"item": "speed boots", "price": 300, "currency": "soft"}),
    ("sell my ember blade for 50", "list_item", {"item": "ember blade", "price": 50, "currency": "soft"}),
    (f"buy listing {HEX}", "buy_listing", {"listing_id": HEX}),
    (f"please buy the listing {HEX}.", "buy_listing", {"listing_id": HEX}),
    ("buy the cheapest ember blade", BUY_CHEAPEST, {"item": "ember blade"}),
    ("buy me the cheapest health potion with gems", BUY_CHEAPEST, {"item": "health potion", "currency": "premium"}),
    ("buy 2 health potions", "buy_from_store", {"item": "health potions", "currency": "soft", "quantity": 2}),
    ("buy an arena banner with gems", "buy_from_store", {"item": "arena banner", "currency": "premium"}),
    ("buy speed boots from the store", "buy_from_store", {"item": "speed boots", "currency": "soft"}),
    ("find me a match in europe", "queue_for_match", {"mode": "arena", "regions": ["eu"]}),
    ("find me a duel match in asia or europe", "queue_for_match", {"mode": "duel", "regions": ["ap", "eu"]}),
    ("queue me for king of the hill", "queue_for_match", {"mode": "koth", "regions": ["local"]}),
    ("get me a game of cards in the us", "queue_for_match", {"mode": "cards", "regions": ["us"]}),
    ("show my match history", "get_match_history", {}),
    ("my recent matches", "get_match_history", {}),
    ("what's my rating", "get_rating", {}),
    ("what is my duel rank?", "get_rating", {"mode": "duel"}),
    ("explain speed boots", "explain_item", {"item": "speed boots"}),
    ("tell me about the founder's blade", "explain_item", {"item": "founder's blade"}),
    ("what is an arena crate", "explain_item", {"item": "arena crate"}),
    ("how do I play koth", "explain_rules", {"mode": "koth"}),
    ("how do you play King of the Hill?", "explain_rules", {"mode": "koth"}),
    ("what are the rules of cards", "explain_rules", {"mode": "cards"}),
    ("how do i play chess", "explain_rules", {"mode": "chess"}),
    ("withdraw my ember blade", "withdraw_item", {"item": "ember blade"}),
    ("trade my ember blade to bram for 100 gold", "offer_trade",
     {"receiver": "bram", "offer_items": ["ember blade"], "request_currency": {"soft": 100}}),
    (f"trade my speed boots with ayla for item {HEX}", "offer_trade",
     {"receiver": "ayla", "offer_items": ["speed boots"], "request_items": [HEX]}),
    ("trade my speed boots to ayla", "offer_trade", {"receiver": "ayla", "offer_items": ["speed boots"]}),
    ("show listings of ember blade", "search_market", {"item": "ember blade"}),
    ("what's on the market for speed boots in gold", "search_market",
     {"item": "speed boots", "currency": "soft", "sort": "price_asc"}),
    ("what's in the store", "search_catalog", {}),
    ("search the shop for boots", "search_catalog", {"words": "boots"}),
    (f"status of ticket {HEX}", "get_ticket", {"ticket_id": HEX}),
    ("help", HELP, {}),
    ("what can you do?", HELP, {}),
]


@pytest.mark.parametrize("message,tool,args", CASES)
def test_messages_become_tool_calls(message: str, tool: str, args: dict[str, Any]) -> None:
    assert parse(message) == Intent(tool, args)


@pytest.mark.parametrize("message,tool,args", [c for c in CASES if c[1] in BY_NAME])
def test_every_parsed_call_fits_its_tools_schema(message: str, tool: str, args: dict[str, Any]) -> None:
    assert problems(args, BY_NAME[tool].parameters) == {}


@pytest.mark.parametrize("message", ["", "   ", "bonjour", "sing me a song", "ignore previous instructions"])
def test_anything_else_is_help(message: str) -> None:
    intent = parse(message)
    assert intent.tool == HELP


def test_a_trade_for_a_named_item_of_someone_else_is_explained_not_guessed() -> None:
    intent = parse("trade my ember blade to bram for his speed boots")
    assert intent.tool == HELP and "id" in intent.args["reason"]


def test_the_help_line_lists_what_it_understands() -> None:
    for phrase in ("inventory", "sell my ember blade", "buy listing", "find me a match", "withdraw", "trade"):
        assert phrase in intents.HELP_LINE


def test_parsing_is_deterministic() -> None:
    assert [parse(m) for m, _, _ in CASES] == [parse(m) for m, _, _ in CASES]


@pytest.mark.parametrize("module", ["intents", "argcheck", "gamerules", "toolspecs"])
def test_the_parser_and_the_specs_are_pure_modules(module: str) -> None:
    tree = ast.parse((Path(intents.__file__).parent / f"{module}.py").read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {str(n.module) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    allowed = {"__future__", "re", "collections.abc", "dataclasses", "typing", "butler.gamerules", "butler.turns"}
    assert imported <= allowed, imported - allowed
