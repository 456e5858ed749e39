"""Money rules: currencies, amount bounds and the arithmetic of a wallet change. No I/O.

Money is counted in whole units of a currency (Python ints, stored as BSON int64). A change
is described by a :class:`Change` and applied by :func:`apply`, which refuses to take a
balance below zero or above :data:`MAX_BALANCE`. Ledger entry ids are derived from the
idempotency key, so the same request can only ever produce the same entry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Literal, NewType, TypeGuard

AccountId = NewType("AccountId", str)
Currency = Literal["soft", "premium"]
CURRENCIES: tuple[Currency, ...] = ("soft", "premium")

MAX_AMOUNT = 1_000_000_000  # largest single price, grant or reward, in currency units
MAX_BALANCE = 1_000_000_000_000  # far below int64; a credit past this is refused

Kind = Literal["purchase", "reward", "grant", "signup", "payment", "refund", "chargeback", "debt", "trade",
               "market_buy", "market_sale", "market_fee"]

# Every ledger kind is either a source (money enters or leaves the economy: sign-up grants,
# admin grants, match rewards, store purchases) or a transfer between wallets (a player, the
# house account, escrow). A transfer's entries share a ``transfer`` id and their deltas sum to
# zero per currency, which `elysium audit` checks: so the total of each currency over all
# wallets is exactly what the sources put in minus what they took out.
# Real-money payments are sources too: ``payment`` credits premium bought with money, ``refund``
# and ``chargeback`` take it back (what the wallet holds; the rest becomes a debt) and ``debt``
# entries are later credits paying such a debt (``commerce/payments``).
SOURCE_KINDS: frozenset[str] = frozenset({"purchase", "reward", "grant", "signup", "payment", "refund", "chargeback",
                                          "debt"})
# A ``trade`` entry moves currency between a player and escrow or between the two players of a
# trade; its ``transfer`` is the trade id (commerce/trades.py).
# A marketplace sale: the buyer's debit, the seller's proceeds and the house's fee (commerce/listings.py).
MARKET_KINDS: frozenset[str] = frozenset({"market_buy", "market_sale", "market_fee"})
TRANSFER_KINDS: frozenset[str] = frozenset({"trade"}) | MARKET_KINDS


class MoneyError(Exception):
    """A change the rules refuse. ``code`` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class InsufficientFunds(MoneyError):
    def __init__(self, currency: str, balance: int, needed: int) -> None:
        super().__init__("insufficient_funds", f"{currency} balance {balance} is less than {needed}")
        self.currency = currency
        self.balance = balance
        self.needed = needed


class BalanceLimit(MoneyError):
    def __init__(self, currency: str) -> None:
        super().__init__("balance_limit", f"the {currency} balance would pass {MAX_BALANCE}")


def is_currency(value: object) -> TypeGuard[Currency]:
    return isinstance(value, str) and value in CURRENCIES


def check_amount(value: object, *, allow_zero: bool = False) -> int:
    """An amount as given by a peer: a plain int (not bool) in 0/1..MAX_AMOUNT."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise MoneyError("bad_amount", "amount must be a whole number")
    low = 0 if allow_zero else 1
    if not low <= value <= MAX_AMOUNT:
        raise MoneyError("bad_amount", f"amount must be between {low} and {MAX_AMOUNT}")
    return value


@dataclass(frozen=True, slots=True)
class Change:
    """Add ``delta`` (negative to debit) to one wallet."""

    account: AccountId
    currency: Currency
    delta: int


def apply(balance: int, change: Change) -> int:
    """The balance after ``change``; raises when it would go below 0 or past the limit."""
    after = balance + change.delta
    if after < 0:
        raise InsufficientFunds(change.currency, balance, -change.delta)
    if after > MAX_BALANCE:
        raise BalanceLimit(change.currency)
    return after


def wallet_id(account: str, currency: str) -> str:
    return f"{account}:{currency}"


ENTRY_ID = r"(purchase|reward|grant|signup|payment|refund|chargeback|debt|trade|market_buy|market_sale|market_fee):[0-9a-f]{32}"


def entry_id(kind: Kind, scope: str, key: str) -> str:
    """The ledger entry id of one idempotent operation (each moves one currency).

    ``scope`` is the account for player requests or the match id for rewards; ``key`` the
    Idempotency-Key (or the player id, or the currency for a sign-up grant). Hashing keeps
    ids short and free of separators, and a unique index on ``_id`` does the rest.
    """
    digest = hashlib.sha256(f"{kind}\x00{scope}\x00{key}".encode()).hexdigest()[:32]
    return f"{kind}:{digest}"


def fingerprint(payload: object) -> str:
    """A stable hash of a request body, to tell a retry from a different request with the same key."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
