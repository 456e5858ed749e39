"""The payment provider interface and the typed events a verified webhook becomes. No I/O.

A provider does two things: open a checkout for (player, pack), answering where to send the
player and the payment's id; and verify a webhook (raw body and headers) into one typed event.
Everything else (crediting, refunds, debts) is the ledger's (:mod:`commerce.payments.ledgering`),
the same for every provider.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

from commerce.catalog import Pack


@dataclass(frozen=True)
class CheckoutRequest:
    account: str
    pack: Pack
    idempotency_key: str  # derived from (player, Idempotency-Key): a retry opens the same checkout
    origin: str  # scheme://host:port the player called, for a provider whose page is served here


@dataclass(frozen=True)
class Checkout:
    payment_id: str  # the provider's id of the checkout (a Stripe Checkout Session id)
    url: str  # where the player pays


@dataclass(frozen=True)
class CheckoutCompleted:
    """``checkout.session.completed`` (or ``...async_payment_succeeded``): the player paid, or will."""

    event_id: str
    payment_id: str
    payment_intent: str | None
    account: str
    pack_id: str
    amount: int  # minor units actually charged
    currency: str  # ISO 4217, upper case
    paid: bool  # payment_status is "paid": only then is the wallet credited


@dataclass(frozen=True)
class ChargeRefunded:
    """``charge.refunded``: ``amount_refunded`` of the charge's ``amount`` went back (cumulative)."""

    event_id: str
    charge_id: str
    payment_intent: str
    amount: int
    amount_refunded: int
    currency: str


@dataclass(frozen=True)
class DisputeCreated:
    """``charge.dispute.created``: the card holder disputes the charge; the money is held back."""

    event_id: str
    dispute_id: str
    payment_intent: str
    amount: int
    currency: str


@dataclass(frozen=True)
class OtherEvent:
    """An event type this service does not act on: answered 200 and recorded, nothing else."""

    event_id: str
    type: str


Event = CheckoutCompleted | ChargeRefunded | DisputeCreated | OtherEvent


class WebhookRefused(Exception):
    """A webhook that is not a genuine, fresh, readable event. ``code`` is the problem code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class ProviderFailed(Exception):
    """The provider refused the checkout or did not answer; ``reused`` when it saw the idempotency
    key with other parameters."""

    def __init__(self, detail: str, *, reused: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.reused = reused


class PaymentProvider(ABC):
    name: str

    @abstractmethod
    async def create_checkout(self, request: CheckoutRequest) -> Checkout:
        """Open a checkout for one pack; the same ``idempotency_key`` answers the same checkout."""

    @abstractmethod
    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> Event:
        """Verify the signature and freshness of a webhook and read it; raises :class:`WebhookRefused`."""

    async def close(self) -> None:
        """Release connections (nothing by default)."""
