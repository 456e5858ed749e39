"""What one chat turn is made of, shared by the model engine, the offline engine and the HTTP
edge. Pure data.

A turn takes the player's message and the conversation so far and yields :class:`Event`\\ s,
which the edge streams to the client as server-sent events (``event: <type>``, ``data:
<json>``) in the order they come:

| type | data | when |
| --- | --- | --- |
| ``text`` | ``{"delta": str}`` | a piece of the reply's text |
| ``tool_start`` | ``{"call_id", "tool", "arguments"}`` | the butler begins using a tool |
| ``tool_end`` | ``{"call_id", "tool", "outcome", "result"}`` | it finished; ``outcome`` ``ok``, ``error`` or ``proposed`` |
| ``proposal`` | ``{"id", "tool", "category", "terms", "summary", "expires_at"}`` | an action waits for ``POST /v1/chat/confirm`` |
| ``done`` | ``{"message": str, "usage": {"prompt_tokens", "completion_tokens"}}`` | the turn's last event |
| ``error`` | ``{"code", "detail", "usage"}`` | the turn failed (the provider, the budget); the last event; ``usage`` as far as it got |

``Turn.new_messages`` (filled in as the turn runs) holds the chat-completions messages the
turn added (the user's message, assistant messages with their ``tool_calls``, ``tool``
results), which the edge appends to the stored conversation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

# Tool categories. ``read`` never asks. The money categories always ask, whatever the
# settings say; the others ask unless the player's settings let them run without asking.
READ = "read"
QUEUE = "queue"
SPEND = "spend"
SELL = "sell"
TRADE = "trade"
WITHDRAW = "withdraw"
CATEGORIES = (READ, QUEUE, SPEND, SELL, TRADE, WITHDRAW)
ALWAYS_ASK = frozenset({SPEND, SELL, TRADE, WITHDRAW})
MAY_SKIP_ASKING = tuple(c for c in CATEGORIES if c != READ and c not in ALWAYS_ASK)

# Event types, in the order the table above gives them.
TEXT = "text"
TOOL_START = "tool_start"
TOOL_END = "tool_end"
PROPOSAL = "proposal"
DONE = "done"
ERROR = "error"


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Prefs:
    """The player's butler settings (``GET/PUT /v1/butler/settings``)."""

    persona: str = "a courteous concierge"
    tone: str = "friendly"
    language: str = "en"
    auto_approve: frozenset[str] = frozenset()  # categories of MAY_SKIP_ASKING that run without asking
    daily_token_budget: int = 50_000

    def asks(self, category: str) -> bool:
        """Whether an action of ``category`` waits for the player's confirmation."""
        if category == READ:
            return False
        return category in ALWAYS_ASK or category not in self.auto_approve


@dataclass
class Turn:
    """One turn's inputs, and the messages it adds."""

    player_id: str
    player_name: str
    token: str  # the player's own access token: every tool call is made with it
    prefs: Prefs
    history: list[dict[str, Any]]  # the conversation so far, as chat-completions messages
    message: str
    new_messages: list[dict[str, Any]] = field(default_factory=list)


class Engine(Protocol):
    """The model engine (``engine.py``) and the offline engine (``offline.py``)."""

    def run(self, turn: Turn) -> AsyncIterator[Event]: ...
