"""The service's exception tree and its problem codes (RFC 9457, ``docs/http.md``).

:class:`Problem` (the kernel's :class:`elysium.problem.Problem`, looked up by code) is the
peer's fault or an expected refusal; each code maps to one HTTP status and one stable
``type`` URI (``urn:elysium:problem:<code>``). Anything else reaching the HTTP boundary is our
bug: ``elysium.http`` logs it and answers a generic 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from elysium import problem

# Commerce's own codes, beside the shared ones: code -> (status, title). Codes are stable: clients branch on them.
COMMERCE: dict[str, tuple[int, str]] = {
    "idempotency-key-reused": (422, "The Idempotency-Key was used for a different request"),
    "invalid-credentials": (401, "Wrong username or password"),
    "invalid-refresh-token": (401, "The refresh token is not valid"),
    "refresh-token-reused": (401, "The refresh token was already used; the session is revoked"),
    "admin-disabled": (403, "The admin API is not configured"),
    "unknown-item": (404, "No such item type"),
    "unknown-account": (404, "No such account"),
    "unknown-ledger-entry": (404, "No such entry in your ledger"),
    "unknown-owned-item": (404, "No such item of yours"),
    "username-taken": (409, "That username is taken"),
    "insufficient-funds": (409, "Not enough money"),
    "balance-limit": (409, "The balance would pass its limit"),
    "sold-out": (409, "The supply cap of this item type is reached"),
    "already-owned": (409, "A unique item of this type is already owned"),
    "not-for-sale": (409, "This item type is not sold for that currency"),
    "quantity-limit": (409, "More than this item type sells at a time"),
    "cap-below-supply": (409, "The new supply cap is below the items already made"),
    "cap-change": (409, "A supply cap can only be set when an item type is created"),
    # Payments (commerce/payments): the webhook's refusals are what Stripe sees and retries.
    "pack-not-found": (404, "No such premium currency pack"),
    "payment-not-found": (404, "No such payment of yours"),
    "payments-disabled": (404, "Payments are not configured"),
    "webhook-signature": (400, "The webhook signature is missing, wrong or too old"),
    "webhook-malformed": (400, "The webhook event is not one this service can read"),
    "payment-mismatch": (422, "The payment does not match its pack or its player"),
    "payment-provider": (502, "The payment provider refused or did not answer; retry the same request"),
    # trades (commerce/trades.py)
    "trade-with-self": (422, "A player cannot trade with themselves"),
    "player-not-found": (404, "No such player"),
    "unknown-trade": (404, "No such trade of yours"),
    "unknown-requested-item": (404, "The other player owns no such item"),
    "wrong-trade-party": (403, "The other party of the trade makes that move"),
    "trade-not-open": (409, "The trade is closed"),
    "item-unavailable": (409, "The item is not in game (listed, in escrow or on chain)"),
    "item-not-tradeable": (409, "This item type cannot be traded"),
    # marketplace (commerce/listings.py)
    "unknown-listing": (404, "No such listing"),
    "listing-sold": (409, "The listing is already sold"),
    "listing-cancelled": (409, "The listing was cancelled"),
    "listing-expired": (409, "The listing has expired"),
    "own-listing": (409, "A seller cannot buy their own listing"),
    "price-limit": (409, "The listing's total (price x quantity) passes the largest amount"),
    "expiry-limit": (409, "The listing would stay open longer than allowed"),
    # the chain (commerce/chain, docs/chain.md)
    "wallet-not-linked": (409, "No Ethereum wallet is linked to the account"),
    "item-listed": (409, "The item is listed on the marketplace"),
    "item-in-escrow": (409, "The item is in escrow for a trade"),
    "item-on-chain": (409, "The item is on chain or leaving for it"),
    "unknown-withdrawal": (404, "No such withdrawal of yours"),
    "chain-disabled": (503, "This service has no chain"),
    # works and licences (commerce/works_api.py, docs/chain.md)
    "unknown-role": (404, "No such role"),
    "creator-role-required": (403, "The account does not hold the creator role"),
    "not-work-creator": (403, "Only the work's creator (or an operator) may change it"),
    "unknown-work": (404, "No such work"),
    "unknown-licence": (404, "No such licence of this work"),
    "work-exists": (409, "A work with this content hash is registered by another creator"),
    "item-type-linked": (409, "The item type is linked to another work"),
    "too-many-licences": (409, "The work has the most licences a work may have"),
    "invalid-period": (422, "The licence expires before or when it starts"),
    "chain-refused": (502, "The chain refused the transaction"),
    "chain-unavailable": (503, "The chain did not answer; retry the same request"),
    # friends and blocks (commerce/friendship.py)
    "friend-self": (422, "A player cannot befriend or block themselves"),
    "already-friends": (409, "The players are friends already"),
    "friend-request-exists": (409, "A request to this player is pending already"),
    "unknown-friend-request": (404, "No such pending friend request"),
    "not-friends": (404, "No such friend of yours"),
    "player-blocked": (409, "You block this player"),
    "blocked-by-player": (403, "This player does not take your requests"),
    "already-blocked": (409, "You block this player already"),
    "not-blocked": (404, "You do not block this player"),
    "friend-limit": (409, "A friend list is full"),
    "friend-request-limit": (409, "A list of pending friend requests is full"),
    "block-limit": (409, "The block list is full"),
    # wallet linking with Sign-In with Ethereum (commerce/wallet_link.py)
    "siwe-message-invalid": (400, "The text is not a Sign-In with Ethereum (EIP-4361) message"),
    "siwe-domain": (422, "The message names another domain than this service's"),
    "siwe-chain-id": (422, "The message names another chain than this service's"),
    "siwe-expired": (422, "The message has expired"),
    "siwe-not-yet-valid": (422, "The message is not valid yet (before its Issued At or Not Before)"),
    "siwe-nonce": (422, "The nonce is unknown, used, expired or not from your latest challenge"),
    "siwe-address": (422, "The message names another address than the challenge"),
    "siwe-signature": (422, "The signature is not the message's address's"),
    "wallet-taken": (409, "That address is linked to another account"),
    "wallet-already-linked": (409, "Another address is linked to this account; unlink it first"),
    "wallet-busy": (409, "An item is being withdrawn to the linked address"),
    # guest and device accounts (commerce/devices.py)
    "device-taken": (409, "That device id is linked to another account"),
    "device-limit": (409, "The account has as many devices as it may link"),
    "credentials-exist": (409, "The account already has a username and password"),
    "no-credentials": (409, "A guest account has no password; link a username and password first"),
    # moderation (commerce/moderation.py); account-banned is shared (elysium/problem.py)
    "not-banned": (409, "The account is not banned"),
    "not-muted": (409, "The account is not muted"),
    "unknown-moderation-entry": (404, "No such moderation log entry"),
    "busy": (503, "Too much contention; retry the same request"),
}
# Every code a commerce answer can carry.
PROBLEMS: dict[str, tuple[int, str]] = {**problem.SHARED, **COMMERCE}


class Problem(problem.Problem):
    """An expected refusal the client sees as problem+json, named by its code alone."""

    def __init__(self, code: str, detail: str = "", *, errors: Mapping[str, str] | None = None,
                 headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        if code not in PROBLEMS:
            raise ValueError(f"unknown problem code {code}")
        status, title = PROBLEMS[code]
        super().__init__(status, code, title, detail, errors=errors, headers=headers, **extra)


class Busy(Problem):
    """Retries of a contended transaction ran out; nothing was applied."""

    def __init__(self) -> None:
        super().__init__("busy", "the request met too much contention and changed nothing; retry it",
                         headers={"Retry-After": "1"})
