"""What a purchase costs and whether it may happen at all. No I/O.

:func:`quote` turns (item type, currency, quantity) into a :class:`Quote` or refuses with a
:class:`PricingError` whose ``code`` is stable. Supply and balance are checked against the
stored state by the adapter, with the numbers this module computes.
"""

from __future__ import annotations

from dataclasses import dataclass

from commerce import ledger
from commerce.catalog import ItemType


class PricingError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Quote:
    item_id: str
    currency: ledger.Currency
    quantity: int
    unit_price: int
    total: int


def quote(item: ItemType, currency: str, quantity: int) -> Quote:
    if not ledger.is_currency(currency):
        raise PricingError("unknown_currency", f"unknown currency; known: {', '.join(ledger.CURRENCIES)}")
    if currency not in item.price:
        raise PricingError("not_for_sale", f"{item.id} is not sold for {currency}")
    if not 1 <= quantity <= item.max_per_purchase:
        raise PricingError("bad_quantity", f"{item.id} can be bought {item.max_per_purchase} at a time at most")
    unit = item.price[currency]
    total = unit * quantity
    if total > ledger.MAX_AMOUNT:
        raise PricingError("bad_quantity", f"a purchase may cost at most {ledger.MAX_AMOUNT}")
    return Quote(item_id=item.id, currency=currency, quantity=quantity, unit_price=unit,
                 total=total)


def supply_left(cap: int | None, minted: int) -> int | None:
    """Items of a capped type that may still be made (None: no cap)."""
    return None if cap is None else max(0, cap - minted)


def fits_supply(cap: int | None, minted: int, quantity: int) -> bool:
    return cap is None or minted + quantity <= cap
