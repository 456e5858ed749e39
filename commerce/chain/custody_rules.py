"""The custody state machine of an item leaving the game and coming back. Pure; no I/O.

An item's ``custody`` says where it is usable; a withdrawal's ``state`` what the player sees of
it, and its ``step`` how far the replica handling it got (what the reconciler resumes from after a
crash). Every change is one row of :data:`TRANSITIONS`, from which docs/chain.md's table is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Custody = Literal["in_game", "listed", "escrow", "withdrawing", "on_chain", "held"]
State = Literal["withdrawing", "on_chain", "withdraw_failed"]
Step = Literal["reserved", "signed", "sent", "done"]

# Custody states an item can be in while usable in the game, and those it is on (or leaving for) the chain.
IN_GAME: frozenset[str] = frozenset({"in_game", "listed", "escrow"})
ON_CHAIN: frozenset[str] = frozenset({"on_chain"})
IN_FLIGHT: frozenset[str] = frozenset({"withdrawing"})
HELD: frozenset[str] = frozenset({"held"})  # deposited by an address no account links: the custody key holds it

# Why a withdrawal request is refused, by the item's custody (problem codes).
REFUSED: dict[str, str] = {"listed": "item-listed", "escrow": "item-in-escrow", "withdrawing": "item-on-chain",
                           "on_chain": "item-on-chain", "held": "item-on-chain"}


@dataclass(frozen=True, slots=True)
class Transition:
    event: str
    before: str  # item custody before
    after: str  # item custody after
    state: str  # the withdrawal's state after ("" for a deposit)
    effect: str


TRANSITIONS: tuple[Transition, ...] = (
    Transition("withdraw", "in_game", "withdrawing", "withdrawing",
               "the linked address is recorded; a withdrawal (step reserved) names the replica handling it"),
    Transition("link", "withdrawing", "withdrawing", "withdrawing",
               "a unique item of a type linked to a work, not linked itself yet: `linkItems(work, [token])` is "
               "sent and its receipt awaited (step reserved; a refusal or a chain that stops answering fails the "
               "withdrawal like a mint's)"),
    Transition("sign", "withdrawing", "withdrawing", "withdrawing",
               "the mint (or, for a unique item the custody key holds, the transfer) is signed and its hash, "
               "nonce and raw bytes recorded before it is sent (step signed)"),
    Transition("receipt ok", "withdrawing", "on_chain", "on_chain",
               "the token is at the linked address; the item's provenance gets the transaction"),
    Transition("refused or reverted", "withdrawing", "in_game", "withdraw_failed",
               "nothing reached the chain, or the transaction reverted (paused, role missing): the reason decoded"),
    Transition("chain down before send", "withdrawing", "in_game", "withdraw_failed",
               "the chain did not answer before a transaction was sent: reason chain-unavailable"),
    Transition("interrupted", "withdrawing", "in_game", "withdraw_failed",
               "the replica stopped before signing (step reserved), so nothing was sent: reason interrupted"),
    Transition("nonce taken", "withdrawing", "in_game", "withdraw_failed",
               "the recorded transaction can never be mined (its nonce went to another): reason not-mined"),
    Transition("deposit", "on_chain", "in_game", "",
               "a TransferSingle/TransferBatch to the custody address, from an address linked to an account: "
               "the item is that account's again"),
    Transition("deposit (unlinked sender)", "on_chain", "held", "",
               "the sender links no account: the custody key holds the token and the item waits"),
    Transition("claim", "held", "in_game", "",
               "an account links the address the deposit came from: the item is that account's (at the link, "
               "or the reconciler's next round)"),
)


def table() -> str:
    """:data:`TRANSITIONS` as the Markdown table of docs/chain.md."""
    head = "| custody before | event | custody after | withdrawal state | effect |\n|---|---|---|---|---|\n"
    return head + "\n".join(f"| `{t.before}` | {t.event} | `{t.after}` | {f'`{t.state}`' if t.state else '—'} | "
                             f"{t.effect} |" for t in TRANSITIONS)


def failed_reason(code: str, message: str) -> dict[str, str]:
    """A withdrawal's ``reason``: a stable code and a sentence."""
    return {"code": code, "message": message[:500]}
