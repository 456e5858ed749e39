"""The rules of a player-to-player trade: its terms, its state machine, its page cursor. No I/O.

A trade is an offer from one player (the *offerer*) to another (the *receiver*): items and/or
currency offered, items and/or currency requested. What is offered waits in escrow (items in
custody ``escrow``, currency in the wallets of the reserved :data:`ESCROW` account) until the
trade closes. :data:`TRANSITIONS` is the whole state machine: which party may do which event in
which state, and what the event does to the escrow. ``docs/commerce.md`` ("Trades") draws it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Literal

from commerce import ledger
from commerce.validation import Field, Invalid, check

ESCROW = ledger.AccountId("escrow")  # holds offered currency; never logs in, trades or is traded with
TRADE_ID = r"[0-9a-f]{32}"
ITEM_UID = r"[0-9a-f]{32}"
MAX_ITEMS = 25  # items per side of a trade
MIN_TTL_S = 60  # the shortest expiry a client may ask for
MAX_TTL_S = 30 * 86_400  # the bound of the setting that bounds a client's expiry

State = Literal["open", "accepted", "declined", "cancelled", "expired"]
STATES: tuple[State, ...] = ("open", "accepted", "declined", "cancelled", "expired")
Event = Literal["accept", "decline", "cancel", "expire"]
Role = Literal["offerer", "receiver", "sweeper"]


class Effect(Enum):
    """What a transition does with the escrow and the receiver's side."""

    SWAP = "swap"  # escrow goes to the receiver, the requested items and currency to the offerer
    RETURN = "return"  # escrow goes back to the offerer; the receiver's side is untouched


@dataclass(frozen=True)
class Transition:
    state: State
    event: Event
    who: frozenset[Role]
    to: State
    effect: Effect


TRANSITIONS: tuple[Transition, ...] = (
    Transition("open", "accept", frozenset({"receiver"}), "accepted", Effect.SWAP),
    Transition("open", "decline", frozenset({"receiver"}), "declined", Effect.RETURN),
    Transition("open", "cancel", frozenset({"offerer", "receiver"}), "cancelled", Effect.RETURN),
    Transition("open", "expire", frozenset({"sweeper"}), "expired", Effect.RETURN),
)
EVENTS: tuple[Event, ...] = ("accept", "decline", "cancel", "expire")


class TradeRefused(Exception):
    """An event the state machine refuses. ``code`` is the problem code the client sees."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def step(state: str, event: Event, role: Role) -> Transition:
    """The transition ``role`` makes with ``event`` in ``state``, or :class:`TradeRefused`.

    A closed trade refuses every event (``trade-not-open``) whoever asks; an open one refuses
    an event its asker may not make (``wrong-trade-party``).
    """
    for t in TRANSITIONS:
        if t.state == state and t.event == event:
            if role not in t.who:
                names = " or ".join(sorted(t.who))
                raise TradeRefused("wrong-trade-party", f"only the {names} may {event} this trade")
            return t
    raise TradeRefused("trade-not-open", f"the trade is {state}; only an open trade can be changed")


# --- terms ------------------------------------------------------------------------------------

CURRENCY_AMOUNTS: dict[str, Field] = {c: Field(int, required=False, min=1, max=ledger.MAX_AMOUNT)
                                      for c in ledger.CURRENCIES}
SIDE = {"items": Field(list, required=False, min=1, max=MAX_ITEMS),
        "currency": Field(dict, required=False, min=1)}
CREATE = {"receiver_id": Field(str, pattern=r"[A-Za-z0-9_-]{1,64}"), "offer": Field(dict, required=False),
          "request": Field(dict, required=False),
          "expires_in_s": Field(int, required=False, min=MIN_TTL_S, max=MAX_TTL_S)}


@dataclass(frozen=True)
class Side:
    items: tuple[str, ...] = ()
    currency: tuple[tuple[ledger.Currency, int], ...] = ()  # (currency, amount > 0), in CURRENCIES order

    @property
    def empty(self) -> bool:
        return not self.items and not self.currency

    def to_doc(self) -> dict[str, Any]:
        return {"items": list(self.items), "currency": dict(self.currency)}


@dataclass(frozen=True)
class Terms:
    receiver: str
    offer: Side
    request: Side
    expires_in_s: int | None

    def fingerprint(self) -> str:
        return ledger.fingerprint({"receiver_id": self.receiver, "offer": self.offer.to_doc(),
                                   "request": self.request.to_doc(), "expires_in_s": self.expires_in_s})


def _side(raw: object, name: str, errors: dict[str, str]) -> Side:
    """One side of a trade: a side that is sent holds at least one item or one amount."""
    try:
        body = check(raw, SIDE)
    except Invalid as exc:
        errors.update({f"{name}.{k}" if k else name: v for k, v in exc.errors.items()})
        return Side()
    if not body:
        errors[name] = "give items or currency, or leave the side out"
    items: list[str] = []
    for n, item in enumerate(body.get("items", [])):
        if not isinstance(item, str) or not re.fullmatch(ITEM_UID, item):
            errors[f"{name}.items[{n}]"] = "must be an item id (32 hex digits)"
        elif item in items:
            errors[f"{name}.items[{n}]"] = "is listed twice"
        else:
            items.append(item)
    currency: list[tuple[ledger.Currency, int]] = []
    if "currency" in body:
        try:
            amounts = check(body["currency"], CURRENCY_AMOUNTS)
        except Invalid as exc:
            errors.update({f"{name}.currency.{k}" if k else f"{name}.currency": v for k, v in exc.errors.items()})
            amounts = {}
        currency = [(c, amounts[c]) for c in ledger.CURRENCIES if c in amounts]
    return Side(tuple(items), tuple(currency))


def parse_terms(raw: object, max_ttl_s: int) -> Terms:
    """A trade as a client offers it, or :class:`Invalid` naming every bad field (``offer.items[2]``).

    The rules are exactly what the OpenAPI schema says (``commerce/trades_api.py``): an item at
    most once per side, every amount 1 to ``MAX_AMOUNT``, each side sent non-empty and at least
    one side. An item on both sides is refused by ownership (no item belongs to both players).
    """
    body = check(raw, CREATE)
    errors: dict[str, str] = {}
    offer = _side(body["offer"], "offer", errors) if "offer" in body else Side()
    request = _side(body["request"], "request", errors) if "request" in body else Side()
    ttl = body.get("expires_in_s")
    if ttl is not None and ttl > max_ttl_s:
        errors["expires_in_s"] = f"must be at most {max_ttl_s}"
    if "offer" not in body and "request" not in body:
        errors[""] = "send an offer, a request or both"
    if errors:
        raise Invalid(errors)
    return Terms(body["receiver_id"], offer, request, ttl)


def trade_id(offerer: str, key: str) -> str:
    """The id of the trade an offerer's Idempotency-Key creates: a retry can only find the same trade."""
    return hashlib.sha256(f"trade\x00{offerer}\x00{key}".encode()).hexdigest()[:32]


def closing_key(actor: str, key: str) -> str:
    """What a closed trade remembers of the request that closed it (its actor and Idempotency-Key),
    so a retry gets the first outcome and the same key sent for another event is told apart."""
    return hashlib.sha256(f"close\x00{actor}\x00{key}".encode()).hexdigest()[:32]


def to_ms(at: datetime) -> datetime:
    """``at`` to the millisecond, as BSON keeps times: what is answered is what a later read gives."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def expiry(at: datetime, ttl_s: int) -> datetime:
    """When a trade made at ``at`` expires."""
    return to_ms(at + timedelta(seconds=ttl_s))


# --- page cursor ------------------------------------------------------------------------------

CURSOR = r"[A-Za-z0-9_-]{32}"  # 24 bytes in base64url: every such string is a position
_MAX_MS = int(datetime(9999, 12, 31, tzinfo=UTC).timestamp() * 1000)


def encode_cursor(created_at: datetime, tid: str) -> str:
    """An opaque cursor: the (time, id) of the last trade of a page, newest first.

    Eight bytes of milliseconds and the sixteen of the id, in base64url: 32 characters, so
    every string of that shape names a position (a later time than any is the newest), and
    anything else is not a cursor.
    """
    ms = int(created_at.timestamp() * 1000)
    return base64.urlsafe_b64encode(ms.to_bytes(8, "big") + bytes.fromhex(tid)).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (time, id) a cursor names; ValueError when it does not have a cursor's shape."""
    if not re.fullmatch(CURSOR, cursor):
        raise ValueError("not a cursor")
    raw = base64.urlsafe_b64decode(cursor)
    ms = min(int.from_bytes(raw[:8], "big"), _MAX_MS)
    return datetime.fromtimestamp(ms / 1000, UTC), raw[8:].hex()
