"""The catalog of item types and how it is read from its versioned file. No I/O here.

The file (``commerce/catalog.json``) carries a ``version``; on start a replica loads it into
MongoDB when the stored version is older, and admins edit single item types through the API
afterwards. :func:`parse_item` is the one place an item type is validated, for the file and
for the admin API alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from commerce import ledger
from commerce.validation import Field, Invalid, check, whole

ITEM_ID = r"[a-z0-9][a-z0-9_-]{0,63}"
RARITIES = ("common", "uncommon", "rare", "epic", "legendary")
MAX_STACK_PURCHASE = 100  # items of a stackable type bought in one purchase at most
MAX_SUPPLY_CAP = 1_000_000_000
READ_ONLY = ("supply_left", "max_per_purchase")  # answered with an item type, ignored in an admin edit


class CatalogError(Exception):
    """The catalog file or an admin edit is not valid; ``errors`` maps field to reason."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class ItemType:
    id: str
    name: str
    description: str
    rarity: str
    stackable: bool
    tradeable: bool
    price: dict[str, int] = field(default_factory=dict)  # currency -> units; empty: not sold
    supply_cap: int | None = None

    @property
    def max_per_purchase(self) -> int:
        return MAX_STACK_PURCHASE if self.stackable else 1

    def to_doc(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "description": self.description, "rarity": self.rarity,
                "stackable": self.stackable, "tradeable": self.tradeable, "price": dict(self.price),
                "supply_cap": self.supply_cap}


def _price_problem(value: Any) -> str | None:
    for currency, amount in value.items():
        if not ledger.is_currency(currency):
            return f"unknown currency {str(currency)[:32]!r}; known: {', '.join(ledger.CURRENCIES)}"
        if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= ledger.MAX_AMOUNT:
            return f"the {currency} price must be a whole number between 1 and {ledger.MAX_AMOUNT}"
    return None


ITEM_SCHEMA: dict[str, Field] = {
    "id": Field(str, pattern=ITEM_ID),
    "name": Field(str, min=1, max=80),
    "description": Field(str, required=False, max=1000),
    "rarity": Field(str, choices=RARITIES),
    "stackable": Field(bool),
    "tradeable": Field(bool),
    "price": Field(dict, required=False, max=len(ledger.CURRENCIES), extra=_price_problem),
    "supply_cap": Field(int, required=False, nullable=True, min=1, max=MAX_SUPPLY_CAP),
}


def parse_item(raw: object) -> ItemType:
    if isinstance(raw, dict) and isinstance(raw.get("price"), dict):
        raw = {**raw, "price": {currency: whole(amount) for currency, amount in raw["price"].items()}}
    try:
        body = check(raw, ITEM_SCHEMA)
    except Invalid as exc:
        raise CatalogError(exc.errors) from None
    return ItemType(id=body["id"], name=body["name"], description=body.get("description", ""),
                    rarity=body["rarity"], stackable=body["stackable"], tradeable=body["tradeable"],
                    price=dict(body.get("price") or {}), supply_cap=body.get("supply_cap"))


def from_doc(doc: dict[str, Any]) -> ItemType:
    return parse_item({k: v for k, v in doc.items() if k in ITEM_SCHEMA})


MAX_PACK_PRICE = 100_000_000  # minor units of money one pack may cost at most (a million euros, say)
ISO_4217 = r"[A-Z]{3}"


@dataclass(frozen=True)
class Pack:
    """A premium currency pack sold for real money: ``price`` minor units of ``currency`` buy ``premium``."""

    id: str
    name: str
    price: int  # minor units (cents) of ``currency``
    currency: str  # ISO 4217, upper case (EUR, USD)
    premium: int

    def to_doc(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "price": self.price, "currency": self.currency,
                "premium": self.premium}


PACK_SCHEMA: dict[str, Field] = {
    "id": Field(str, pattern=ITEM_ID),
    "name": Field(str, min=1, max=80),
    "price": Field(int, min=1, max=MAX_PACK_PRICE),
    "currency": Field(str, pattern=ISO_4217),
    "premium": Field(int, min=1, max=ledger.MAX_AMOUNT),
}


def parse_pack(raw: object) -> Pack:
    try:
        body = check(raw, PACK_SCHEMA)
    except Invalid as exc:
        raise CatalogError(exc.errors) from None
    return Pack(id=body["id"], name=body["name"], price=body["price"], currency=body["currency"],
                premium=body["premium"])


@dataclass(frozen=True)
class CatalogFile:
    version: int
    items: tuple[ItemType, ...]
    signup_grant: dict[str, int]
    rewards: dict[str, Any]  # mode -> raw rules, parsed by commerce.rules
    packs: tuple[Pack, ...] = ()  # premium currency packs, read from the file by every replica


def parse_file(raw: object) -> CatalogFile:
    """Validate the whole catalog file; every problem is named with its place."""
    if not isinstance(raw, dict):
        raise CatalogError({"": "the catalog must be a JSON object"})
    errors: dict[str, str] = {}
    unknown = set(raw) - {"version", "items", "signup_grant", "rewards", "comment", "packs"}
    for key in sorted(unknown):
        errors[key] = "is not a known field"
    version = raw.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        errors["version"] = "must be a whole number of at least 1"
    items: list[ItemType] = []
    seen: set[str] = set()
    raw_items = raw.get("items")
    if not isinstance(raw_items, list):
        errors["items"] = "must be an array"
        raw_items = []
    for index, entry in enumerate(raw_items):
        try:
            item = parse_item(entry)
        except CatalogError as exc:
            for k, v in exc.errors.items():
                errors[f"items[{index}].{k}"] = v
            continue
        if item.id in seen:
            errors[f"items[{index}].id"] = f"{item.id} appears twice"
        seen.add(item.id)
        items.append(item)
    grant = raw.get("signup_grant", {})
    problem = _price_problem(grant) if isinstance(grant, dict) else "must be an object"
    if problem:
        errors["signup_grant"] = problem
    rewards = raw.get("rewards", {})
    if not isinstance(rewards, dict):
        errors["rewards"] = "must be an object of mode -> rules"
        rewards = {}
    else:
        from commerce.rules import RulesError, parse_rules

        for mode, rules in rewards.items():
            try:
                parse_rules(rules, known_items=seen)
            except RulesError as exc:
                for k, v in exc.errors.items():
                    errors[f"rewards.{mode}.{k}"] = v
    packs = _parse_packs(raw.get("packs", []), errors)
    if errors:
        raise CatalogError(errors)
    assert isinstance(version, int)
    return CatalogFile(version=version, items=tuple(items), signup_grant=dict(grant), rewards=dict(rewards),
                       packs=packs)


def _parse_packs(raw: object, errors: dict[str, str]) -> tuple[Pack, ...]:
    if not isinstance(raw, list):
        errors["packs"] = "must be an array"
        return ()
    packs: list[Pack] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        try:
            pack = parse_pack(entry)
        except CatalogError as exc:
            for k, v in exc.errors.items():
                errors[f"packs[{index}].{k}"] = v
            continue
        if pack.id in seen:
            errors[f"packs[{index}].id"] = f"{pack.id} appears twice"
        seen.add(pack.id)
        packs.append(pack)
    return tuple(packs)


def is_item_id(value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(ITEM_ID, value) is not None
