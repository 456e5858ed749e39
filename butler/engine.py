"""The model engine: one chat turn driven by the model, its tool calls run under the rule.

A turn is a loop of model rounds. Each round streams the model's text to the player as
``text`` events; when the model asks for tools, each call is run and its result fed back as a
``role: tool`` message with the call's id, and the model is asked again, at most
``max_tool_rounds`` times (and at most ``MAX_CALLS_PER_ROUND`` calls of one answer, so a model
cannot fill the player's pending list with a hundred proposals at once); then it is asked once
more with ``tool_choice: "none"`` to say where it got to (calls it makes anyway are dropped,
never run).

The rule, the same as the offline engine's (``butler/turns.py``): a ``read`` tool runs at
once; any other tool is planned (its exact terms looked up, nothing performed), and then it
either becomes a proposal the player confirms in the app (``proposal`` event) or, only for a
category the player's settings let run without asking, is performed at once under a fresh
idempotency key. No tool confirms a proposal, so nothing the model reads (a listing title, a
player's name, a tool result) can spend the player's money: at worst it makes a proposal.

What the model gets wrong (a tool that does not exist, arguments that are not a JSON object,
a tool's refusal) becomes a tool result saying so, with outcome ``error``: the model can tell
the player or try again, and the turn goes on. A provider failure ends the turn with an
``error`` event ``{"code", "detail", "usage"}`` (the usage of the rounds that did finish, for
the budget).

``observe(tool, outcome)`` is told of every call (``ok``, ``error`` or ``proposed``); a tool name
the model made up is reported as ``unknown-tool``, so a metric labelled by it stays bounded.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from butler import prompts
from butler.proposals import Proposals
from butler.provider import ZERO, Completion, Provider, ProviderError, TextDelta, ToolCall, Usage
from butler.tools import ToolError, Toolbox
from butler.turns import DONE, ERROR, PROPOSAL, READ, TEXT, TOOL_END, TOOL_START, Event, Turn

log = logging.getLogger(__name__)

OK = "ok"
FAILED = "error"
PROPOSED = "proposed"

MAX_CALLS_PER_ROUND = 8  # tool calls run from one answer; the rest are answered "too-many-calls"
UNKNOWN_TOOL = "unknown-tool"  # the tool name ``observe`` gets for a call of a tool that does not exist
ROUND_LIMIT_TEXT = "I stopped there: that took more steps than I may take in one reply. Ask me to carry on."


@dataclass(frozen=True, slots=True)
class Outcome:
    """What running one tool call came to: the result the model reads and how it went."""

    outcome: str  # OK, FAILED or PROPOSED
    result: dict[str, Any]
    proposal: dict[str, Any] | None = None  # the PROPOSAL event's data


def failure(code: str, detail: str) -> Outcome:
    return Outcome(FAILED, {"error": {"code": code, "detail": detail}})


def parse_arguments(raw: str) -> dict[str, Any] | None:
    """The call's arguments as an object (empty text is no arguments); None if they are not one."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def assistant_message(completion: Completion, calls: tuple[ToolCall, ...]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": completion.text or (None if calls else "")}
    if calls:
        message["tool_calls"] = [{"id": c.id, "type": "function",
                                  "function": {"name": c.name, "arguments": c.arguments}} for c in calls]
    return message


def tool_message(call: ToolCall, outcome: Outcome) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call.id, "content": json.dumps(outcome.result, default=str)}


class ModelEngine:
    """Implements :class:`butler.turns.Engine` with a model behind :class:`Provider`."""

    def __init__(self, provider: Provider, toolbox: Toolbox, proposals: Proposals, *, max_tool_rounds: int = 6,
                 observe: Callable[[str, str], None] | None = None) -> None:
        if max_tool_rounds < 0:
            raise ValueError("max_tool_rounds must not be negative")
        self.provider = provider
        self.toolbox = toolbox
        self.proposals = proposals
        self.max_tool_rounds = max_tool_rounds
        self._observe = observe

    def messages(self, turn: Turn) -> list[dict[str, Any]]:
        """What the model is sent first: the system prompt, the conversation so far, the new message."""
        return [{"role": "system", "content": prompts.system_prompt(turn.prefs, turn.player_name)},
                *turn.history, {"role": "user", "content": turn.message}]

    async def run(self, turn: Turn) -> AsyncIterator[Event]:
        messages = self.messages(turn)
        turn.new_messages.append(messages[-1])
        tools = self.toolbox.openai_tools()
        usage = ZERO
        said: list[str] = []
        rounds = 0
        while True:
            last = rounds >= self.max_tool_rounds
            completion: Completion | None = None
            started = False
            try:
                async with contextlib.aclosing(self.provider.stream(
                        messages, tools, tool_choice="none" if last else "auto")) as items:
                    async for item in items:
                        if isinstance(item, TextDelta):
                            if not started and said:
                                said.append("\n\n")
                                yield Event(TEXT, {"delta": "\n\n"})
                            started = True
                            said.append(item.text)
                            yield Event(TEXT, {"delta": item.text})
                        else:
                            completion = item
            except ProviderError as exc:
                yield Event(ERROR, {"code": exc.code, "detail": exc.detail, "usage": usage.body()})
                return
            assert completion is not None  # the provider always ends with one
            usage = usage + completion.usage
            calls = () if last else completion.tool_calls
            if last and not completion.text and completion.tool_calls:
                if said:
                    said.append("\n\n")
                    yield Event(TEXT, {"delta": "\n\n"})
                said.append(ROUND_LIMIT_TEXT)
                yield Event(TEXT, {"delta": ROUND_LIMIT_TEXT})
                completion = Completion(ROUND_LIMIT_TEXT, (), completion.usage, completion.finish_reason)
            reply = assistant_message(completion, calls)
            messages.append(reply)
            turn.new_messages.append(reply)
            if not calls:
                yield Event(DONE, {"message": "".join(said), "usage": usage.body()})
                return
            for index, call in enumerate(calls):
                arguments = parse_arguments(call.arguments)
                yield Event(TOOL_START, {"call_id": call.id, "tool": call.name,
                                         "arguments": arguments if arguments is not None else call.arguments})
                if index >= MAX_CALLS_PER_ROUND:
                    outcome = failure("too-many-calls", f"At most {MAX_CALLS_PER_ROUND} tool calls are run at "
                                                        "a time; this one was not. Ask again for what is left.")
                else:
                    outcome = await self.call(turn, call, arguments)
                if outcome.proposal is not None:
                    yield Event(PROPOSAL, outcome.proposal)
                yield Event(TOOL_END, {"call_id": call.id, "tool": call.name, "outcome": outcome.outcome,
                                       "result": outcome.result})
                if self._observe is not None:
                    # A name the model made up is reported as one label, so metrics stay bounded.
                    known = self.toolbox.get(call.name) is not None
                    self._observe(call.name if known else UNKNOWN_TOOL, outcome.outcome)
                result = tool_message(call, outcome)
                messages.append(result)
                turn.new_messages.append(result)
            rounds += 1

    async def call(self, turn: Turn, call: ToolCall, arguments: dict[str, Any] | None) -> Outcome:
        """Run one tool call under the rule; what the model asked for wrongly is an error result."""
        tool = self.toolbox.get(call.name)
        if tool is None:
            return failure(UNKNOWN_TOOL, f"There is no tool named {prompts.clip(call.name, 60)!r}; "
                                           "use only the tools you were given.")
        if arguments is None:
            return failure("invalid-arguments", "The arguments were not a JSON object.")
        try:
            if tool.category == READ:
                return Outcome(OK, await self.toolbox.read(tool.name, arguments, turn.token))
            plan = await self.toolbox.plan(tool.name, arguments, turn.token)
            if turn.prefs.asks(plan.category):
                proposal = await self.proposals.create(turn.player_id, plan)
                body = proposal.body()
                return Outcome(PROPOSED, {
                    "status": "awaiting-confirmation", "proposal_id": proposal.id, "summary": plan.summary,
                    "terms": plan.terms, "expires_at": body["expires_at"],
                    "note": "Nothing has happened yet. The player confirms or declines this in the app; "
                            "you cannot confirm it. Tell them what was proposed."}, body)
            done = await self.toolbox.perform(plan, turn.token, str(uuid.uuid4()))
            return Outcome(OK, {"status": "done", "summary": plan.summary, "result": done})
        except ToolError as exc:
            return failure(exc.code, exc.detail)
