"""The offline engine's English intent parser: a player's message to one tool call. Pure.

Deterministic and table-driven: the first pattern of :data:`PATTERNS` that matches the message
decides, and its builder turns the match into an :class:`Intent` (a tool and its arguments, or
``help`` with a reason). Only the player's own message is ever parsed; what tools answer is
shown, never read for instructions.

Currencies: ``soft`` is what players call gold or coins, ``premium`` gems. Regions are the names
the game servers advertise (``eu``, ``us``, ``ap``, ``local``); the words players use map onto
them (:data:`REGION_WORDS`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HELP = "help"
BUY_CHEAPEST = "buy_cheapest"  # search the market, then plan buying its cheapest listing

CURRENCY_WORDS = {"gold": "soft", "coin": "soft", "coins": "soft", "soft": "soft",
                  "gem": "premium", "gems": "premium", "premium": "premium"}
REGION_WORDS = {"europe": "eu", "european": "eu", "eu": "eu", "america": "us", "american": "us", "us": "us",
                "usa": "us", "na": "us", "asia": "ap", "asian": "ap", "ap": "ap", "apac": "ap", "local": "local"}
MODE_WORDS = (("team arena", "team-arena"), ("team-arena", "team-arena"), ("king of the hill", "koth"),
              ("koth", "koth"), ("duel", "duel"), ("cards", "cards"), ("card", "cards"), ("arena", "arena"))
DEFAULT_MODE = "arena"
DEFAULT_REGIONS = ("local",)
CAPABILITIES = ("what's in my inventory", "how much premium do I have", "sell my ember blade for 50 gold",
                "buy listing <id>", "buy the cheapest health potion", "buy 2 health potions",
                "find me a match in europe", "show my match history", "what's my rating",
                "explain speed boots", "how do I play koth", "withdraw my speed boots",
                "trade my speed boots to <friend> for 100 gold", "show listings of speed boots",
                "what's in the store", "ticket <id>")
HELP_LINE = "I understand requests like: " + "; ".join(f'"{c}"' for c in CAPABILITIES) + "."


@dataclass(frozen=True, slots=True)
class Intent:
    tool: str  # a tool's name, BUY_CHEAPEST, or HELP
    args: dict[str, Any] = field(default_factory=dict)


def _clean(text: str) -> str:
    text = re.sub(r"\s+", " ", text.lower()).strip()
    return re.sub(r"[\s?!.,]+$", "", text).replace("\u2019", "'")


def _thing(text: str) -> str:
    """An item as the player names it: without articles, possessives or politeness."""
    text = re.sub(r"\b(please|for me|pls)\b", " ", text)
    text = re.sub(r"^(?:(?:my|the|a|an|one|some)\s+)+", "", text.strip())
    return " ".join(text.split())


def currency_of(word: str | None) -> str | None:
    return CURRENCY_WORDS.get(word) if word else None


def _mode(text: str) -> str | None:
    for words, mode in MODE_WORDS:
        if re.search(rf"\b{re.escape(words)}\b", text):
            return mode
    return None


def _regions(text: str) -> list[str]:
    found = [(m.start(), REGION_WORDS[m.group(0)])
             for m in re.finditer(r"\b(" + "|".join(REGION_WORDS) + r")\b", text)]
    return list(dict.fromkeys(r for _, r in sorted(found)))


CUR = r"(?P<cur>gold|coins?|soft|gems?|premium)"
Builder = Callable[[re.Match[str], str], Intent]


def _sell(m: re.Match[str], text: str) -> Intent:
    return Intent("list_item", {"item": _thing(m["item"]), "price": int(m["price"]),
                                "currency": currency_of(m["cur"]) or "soft"})


def _buy_store(m: re.Match[str], text: str) -> Intent:
    args: dict[str, Any] = {"item": _thing(m["item"]), "currency": currency_of(m["cur"]) or "soft"}
    if m["qty"]:
        args["quantity"] = int(m["qty"])
    return Intent("buy_from_store", args)


def _buy_cheapest(m: re.Match[str], text: str) -> Intent:
    args = {"item": _thing(m["item"])}
    if m["cur"]:
        args["currency"] = CURRENCY_WORDS[m["cur"]]
    return Intent(BUY_CHEAPEST, args)


def _trade(m: re.Match[str], text: str) -> Intent:
    args: dict[str, Any] = {"receiver": m["player"], "offer_items": [_thing(m["item"])]}
    want = (m["what"] or "").strip()
    amount = re.fullmatch(rf"(?P<n>\d+)\s*{CUR}", want)
    if amount:
        args["request_currency"] = {CURRENCY_WORDS[amount["cur"]]: int(amount["n"])}
    elif re.fullmatch(r"(?:item\s+)?[0-9a-f]{32}", want):
        args["request_items"] = [want[-32:]]
    elif want:
        return Intent(HELP, {"reason": "I can ask for another player's item only by its id (32 hex digits), "
                                       "or for an amount such as 100 gold"})
    return Intent("offer_trade", args)


def _queue(m: re.Match[str], text: str) -> Intent:
    return Intent("queue_for_match", {"mode": _mode(text) or DEFAULT_MODE,
                                      "regions": _regions(text) or list(DEFAULT_REGIONS)})


def _rules(m: re.Match[str], text: str) -> Intent:
    raw = _thing(m["mode"])
    return Intent("explain_rules", {"mode": _mode(raw) or raw[:32] or DEFAULT_MODE})


def _rating(m: re.Match[str], text: str) -> Intent:
    mode = _mode(text)
    return Intent("get_rating", {"mode": mode} if mode else {})


def _wallet(m: re.Match[str], text: str) -> Intent:
    return Intent("get_wallet")


def _market(m: re.Match[str], text: str) -> Intent:
    args: dict[str, Any] = {}
    item = _thing(re.sub(rf"\s+(?:in|for|with)\s+{CUR}$", "", m["item"] or ""))
    if item:
        args["item"] = item[:64]
    cur = re.search(rf"\b{CUR}\b", text)
    if cur:
        args["currency"] = CURRENCY_WORDS[cur["cur"]]
        args["sort"] = "price_asc"
    return Intent("search_market", args)


def _catalog(m: re.Match[str], text: str) -> Intent:
    words = _thing(m["words"] or "")
    return Intent("search_catalog", {"words": words[:100]} if words else {})


def _simple(tool: str, **fixed: Any) -> Builder:
    return lambda m, text: Intent(tool, dict(fixed))


def _with(tool: str, key: str, cleaned: bool = True) -> Builder:
    return lambda m, text: Intent(tool, {key: (_thing(m[key]) if cleaned else m[key])[:64]})


PATTERNS: tuple[tuple[str, Builder], ...] = (
    (r"^(?:help|\?|what can you do|what do you understand)\b.*", _simple(HELP)),
    (rf"\b(?:sell|list)\s+(?P<item>.+?)\s+(?:for|at)\s+(?P<price>\d{{1,10}})\s*{CUR}?(?:\s+each)?$", _sell),
    (r"\bbuy\s+(?:the\s+)?listing\s+(?P<listing_id>[0-9a-f]{32})$", _with("buy_listing", "listing_id", False)),
    (rf"\bbuy\s+(?:me\s+)?the\s+cheapest\s+(?P<item>.+?)(?:\s+(?:for|in|with)\s+{CUR})?$", _buy_cheapest),
    (rf"\bbuy\s+(?:me\s+)?(?:(?P<qty>\d{{1,3}})\s+)?(?P<item>.+?)(?:\s+from\s+the\s+(?:store|shop))?"
     rf"(?:\s+(?:for|with|in)\s+{CUR})?$", _buy_store),
    (r"\bwithdraw\s+(?P<item>.+)$", _with("withdraw_item", "item")),
    (rf"\btrade\s+(?P<item>.+?)\s+(?:to|with)\s+(?P<player>[A-Za-z0-9_-]{{1,64}})(?:\s+for\s+(?P<what>.+))?$",
     _trade),
    (r"\bhow\s+(?:do|does|can|should)\s+(?:i|you|one|we)\s+play\s+(?P<mode>.+)$", _rules),
    (r"\b(?:rules|controls)\s+(?:of|for|in)\s+(?P<mode>.+)$", _rules),
    (r"\bticket\s+(?P<ticket_id>[0-9a-f]{32})\b", _with("get_ticket", "ticket_id", False)),
    (r"\b(?:find|queue|get|join|start|search)\b.*\b(?:match|game|queue|opponent)\b", _queue),
    (r"\bqueue\s+(?:me\s+)?(?:up\s+)?(?:for|in)\b", _queue),
    (r"\b(?:match\s+history|my\s+matches|recent\s+matches|past\s+matches|last\s+matches|history)\b",
     _simple("get_match_history")),
    (r"\b(?:rating|ratings|rank|ranking|elo|mmr|skill)\b", _rating),
    (r"\b(?:inventory|my\s+items|what\s+do\s+i\s+(?:own|have|hold)|items\s+do\s+i)\b", _simple("get_inventory")),
    (r"\b(?:wallet|balances?|how\s+much|how\s+many\s+(?:gold|coins|gems)|my\s+(?:gold|coins|gems|money))\b",
     _wallet),
    (r"\b(?:listings?|market(?:place)?)\b(?:.*?\b(?:for|of)\s+(?P<item>.+))?$", _market),
    (r"\b(?:store|shop|catalog(?:ue)?)\b(?:.*?\b(?:for|with)\s+(?P<words>.+))?$", _catalog),
    (r"\b(?:explain|describe|what\s+is|what's|what\s+are|tell\s+me\s+about)\s+(?P<item>.+)$",
     _with("explain_item", "item")),
)
_COMPILED = tuple((re.compile(p), build) for p, build in PATTERNS)


def parse(message: str) -> Intent:
    """The one intent of ``message``; :data:`HELP` when nothing matches."""
    text = _clean(message)[:500]
    for pattern, build in _COMPILED:
        m = pattern.search(text)
        if m:
            return build(m, text)
    return Intent(HELP, {"reason": "I did not understand that"} if text else {})
