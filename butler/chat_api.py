"""``POST /v1/chat`` (a turn, streamed as server-sent events) and ``POST /v1/chat/confirm``.

A chat is refused before anything is stored or any model is called: a bad body (400/422),
draining (503), the rate limit (429 ``rate-limited``), a spent token budget (429
``token-budget-spent``, model engine only), an unknown conversation (404). Then the stream
opens with ``event: conversation``, carries every engine event, and ends with ``done`` or
``error``; what the player saw and the messages the turn added are stored together at the end,
even when the client went away mid-stream (a proposal it made is then still listed).

Confirmation is the only way an action that asks is performed: the proposal is taken (single
use, the player's own, not expired), then performed with the proposal's id as the
``Idempotency-Key``. A failure that may or may not have reached commerce (``unavailable``)
puts the proposal back, so confirming again retries with the same key, which commerce applies
at most once; any other refusal leaves it used (the player asks again for fresh terms).
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from typing import Any

from aiohttp import web

from butler import sse, turns
from butler.appkeys import SERVICES, Services
from butler.auth import Player, player
from butler.conversations import trim_history
from butler.proposals import ProposalError
from butler.tools import ToolError
from elysium import http
from elysium.problem import CODE, Problem

log = logging.getLogger("butler.chat")

MAX_MESSAGE_CHARS = 4000
CONVERSATION_ID = re.compile(r"[0-9a-f]{24}")
PROPOSAL_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
PROPOSAL_STATUS = {"proposal-not-found": 404, "proposal-used": 409, "proposal-expired": 410}
PROPOSAL_DETAIL = {"proposal-not-found": "no such proposal of yours",
                   "proposal-used": "this proposal was already confirmed; ask the butler again for a new one",
                   "proposal-expired": "this proposal expired before it was confirmed; ask the butler again"}
# The status a tool's refusal answers with; any other code is 409 (the action was refused as it stands).
TOOL_STATUS = {"not-found": 404, "invalid-arguments": 422, "unavailable": 503, "forbidden": 403,
               "unauthorized": 401, "invalid-token": 401, "rate-limited": 429}
STREAM_CLOSED = (ConnectionResetError, ConnectionError)


def _chat_request(body: Any) -> tuple[str, str | None]:
    if not isinstance(body, dict):
        raise Problem(422, "invalid-chat", "The chat request is not valid", "the body must be a JSON object",
                      errors={"": "not an object"})
    errors: dict[str, str] = {}
    for key in body:
        if key not in ("message", "conversation_id"):
            errors[str(key)[:64]] = "unknown field; send message and, optionally, conversation_id"
    message = body.get("message")
    if not isinstance(message, str) or not message.strip():
        errors["message"] = "must be a non-empty string"
    elif len(message) > MAX_MESSAGE_CHARS:
        errors["message"] = f"must be at most {MAX_MESSAGE_CHARS} characters"
    conversation_id = body.get("conversation_id")
    if "conversation_id" in body and (not isinstance(conversation_id, str)  # null is not an id either
                                      or not CONVERSATION_ID.fullmatch(conversation_id)):
        errors["conversation_id"] = "must be the id of one of your conversations"
    if errors:
        raise Problem(422, "invalid-chat", "The chat request is not valid",
                      "; ".join(f"{k}: {v}" for k, v in errors.items()), errors=errors)
    assert isinstance(message, str)
    return message, conversation_id


def not_found(conversation_id: str) -> Problem:
    return Problem(404, "conversation-not-found", "No such conversation",
                   f"no conversation {conversation_id[:64]} of yours")


def _draining() -> Problem:
    return Problem(503, "draining", "The butler is shutting down", "this replica is shutting down; send the chat "
                   "again and another will answer", headers={"Retry-After": "1"})


async def chat(request: web.Request) -> web.StreamResponse:
    svc = request.app[SERVICES]
    who = player(request)
    if svc.draining:
        raise _draining()
    message, conversation_id = _chat_request(await http.read_json(request, svc.settings.max_body_bytes))
    await svc.limiter.hit("chat", who.id, svc.settings.chat_per_window)
    prefs = await svc.prefs.get(who.id)
    if svc.uses_tokens:
        await svc.budget.check(who.id, prefs.daily_token_budget)
    if conversation_id is not None:
        conversation = await svc.conversations.get(who.id, conversation_id)
        if conversation is None:
            raise not_found(conversation_id)
    else:
        conversation = await svc.conversations.create(who.id, message)
    turn = turns.Turn(player_id=who.id, player_name=who.name, token=who.token, prefs=prefs,
                      history=trim_history(list(conversation.get("history", []))), message=message)
    response = http.stream_response(request, headers=sse.HEADERS)
    await response.prepare(request)
    svc.metrics.streams.inc()
    try:
        await _stream(svc, who, conversation["_id"], turn, response)
    finally:
        svc.metrics.streams.dec()
    with contextlib.suppress(*STREAM_CLOSED):
        await response.write_eof()
    return response


async def _stream(svc: Services, who: Player, conversation_id: str, turn: turns.Turn,
                  response: web.StreamResponse) -> None:
    """Run the turn into ``response``; store what happened whatever the client did."""
    entries: list[dict[str, Any]] = [{"role": "user", "text": turn.message, "at": _now()}]
    proposals: list[str] = []
    text: list[str] = []
    usage = {"prompt_tokens": 0, "completion_tokens": 0}
    started = time.perf_counter()
    first = True
    end = "disconnected"
    connected = True
    count_tools = svc.engine_name != "model"  # the model engine reports its tool calls itself (observe)

    async def send(event: str, data: dict[str, Any]) -> None:
        nonlocal connected
        if not connected:
            return
        try:
            await response.write(sse.frame(event, data))
        except STREAM_CLOSED:
            connected = False

    await send(sse.CONVERSATION, {"id": conversation_id})
    events = svc.engine.run(turn)
    try:
        async for event in events:
            if first:
                svc.metrics.first_event.labels(svc.engine_name).observe(time.perf_counter() - started)
                first = False
            _entry(event, entries, proposals, text)
            if event.type in (turns.DONE, turns.ERROR):
                _add_usage(usage, event.data.get("usage"))
            if event.type == turns.TOOL_END and count_tools:
                svc.metrics.tool(str(event.data.get("tool")), str(event.data.get("outcome")))
            if event.type == turns.ERROR:
                code = str(event.data.get("code", ""))
                if code.startswith("provider-"):
                    svc.metrics.provider_errors.labels(code).inc()
            await send(event.type, event.data)
            if event.type in (turns.DONE, turns.ERROR):
                end = event.type
                break
        else:
            end = "error"
            log.error("the engine ended a turn without done or error")
            await _fail(send, entries, "the turn ended unexpectedly")
    except Exception:
        log.exception("the engine failed")
        end = "error"
        await _fail(send, entries, "something went wrong on our side; nothing more was done")
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
        svc.metrics.turns.labels(svc.engine_name, end).inc()
        svc.metrics.turn_seconds.labels(svc.engine_name).observe(time.perf_counter() - started)
        await _keep(svc, who, conversation_id, turn, entries, proposals, usage)


async def _fail(send: Any, entries: list[dict[str, Any]], detail: str) -> None:
    data = {"code": "internal", "detail": detail}
    entries.append({"role": "error", **data, "at": _now()})
    await send(turns.ERROR, data)


async def _keep(svc: Services, who: Player, conversation_id: str, turn: turns.Turn, entries: list[dict[str, Any]],
                proposals: list[str], usage: dict[str, int]) -> None:
    tokens = usage["prompt_tokens"] + usage["completion_tokens"]
    for kind in ("prompt_tokens", "completion_tokens"):
        if usage[kind]:
            svc.metrics.tokens.labels(kind.removesuffix("_tokens")).inc(usage[kind])
    try:
        await svc.budget.record(who.id, tokens)
        await svc.conversations.append(who.id, conversation_id, entries, list(turn.new_messages), proposals)
    except Exception:
        log.exception("the turn could not be stored", extra={"conversation": conversation_id})


def _entry(event: turns.Event, entries: list[dict[str, Any]], proposals: list[str], text: list[str]) -> None:
    """What the player saw of ``event``, as a conversation entry (text deltas join into one)."""
    data = event.data
    if event.type == turns.TEXT:
        text.append(str(data.get("delta", "")))
    elif event.type == turns.TOOL_END:
        entries.append({"role": "tool", "tool": data.get("tool"), "call_id": data.get("call_id"),
                        "outcome": data.get("outcome"), "result": data.get("result"), "at": _now()})
    elif event.type == turns.PROPOSAL:
        proposals.append(str(data.get("id")))
        entries.append({"role": "proposal", **data, "at": _now()})
    elif event.type == turns.DONE:
        said = str(data.get("message") or "".join(text))
        if said:
            entries.append({"role": "assistant", "text": said, "at": _now()})
        text.clear()
    elif event.type == turns.ERROR:
        if text:
            entries.append({"role": "assistant", "text": "".join(text), "at": _now()})
            text.clear()
        entries.append({"role": "error", "code": data.get("code"), "detail": data.get("detail"), "at": _now()})


def _add_usage(total: dict[str, int], usage: Any) -> None:
    if not isinstance(usage, dict):
        return
    for kind in total:
        value = usage.get(kind)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            total[kind] += value


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def confirm(request: web.Request) -> web.Response:
    svc = request.app[SERVICES]
    who = player(request)
    body = await http.read_json(request, svc.settings.max_body_bytes)
    if (not isinstance(body, dict) or set(body) != {"proposal_id"} or not isinstance(body["proposal_id"], str)
            or not PROPOSAL_ID.fullmatch(body["proposal_id"])):
        raise Problem(422, "invalid-confirmation", "The confirmation is not valid",
                      "send exactly {\"proposal_id\": <the id of a proposal event>}",
                      errors={"proposal_id": "must be the id of a proposal the butler made for you"})
    proposal_id: str = body["proposal_id"]
    await svc.limiter.hit("confirm", who.id, svc.settings.confirm_per_window)
    try:
        proposal = await svc.proposals.take(who.id, proposal_id)
    except ProposalError as exc:
        svc.metrics.confirmations.labels(exc.code).inc()
        raise Problem(PROPOSAL_STATUS.get(exc.code, 409), exc.code, detail=PROPOSAL_DETAIL.get(exc.code, exc.code),
                      proposal_id=proposal_id) from None
    plan = proposal.plan
    terms = {"tool": plan.tool, "category": plan.category, "terms": plan.terms, "summary": plan.summary}
    try:
        result = await svc.toolbox.perform(plan, who.token, idempotency_key=proposal.id)
    except ToolError as exc:
        code = exc.code if CODE.fullmatch(exc.code) else "tool-error"
        retry = code == "unavailable"
        release = getattr(svc.proposals, "release", None)  # optional in the contract
        retry = retry and release is not None
        if retry and release is not None:  # perhaps performed, perhaps not: confirming again repeats the same key
            await release(who.id, proposal_id)
        svc.metrics.confirmations.labels(code).inc()
        await _record(svc, who, proposal_id, {"outcome": "error", "code": code, "detail": exc.detail, **terms})
        headers = {"Retry-After": "2"} if retry else None
        raise Problem(TOOL_STATUS.get(code, 409), code, detail=exc.detail, headers=headers, proposal_id=proposal_id,
                      retry_confirm=retry) from None
    svc.metrics.confirmations.labels("ok").inc()
    await _record(svc, who, proposal_id, {"outcome": "ok", "result": result, **terms})
    return http.json_response({"proposal_id": proposal_id, **terms, "result": result})


async def _record(svc: Services, who: Player, proposal_id: str, outcome: dict[str, Any]) -> None:
    """The confirmation's outcome, in the conversation that proposed it (and a note for the model)."""
    entry = {"role": "confirmation", "proposal_id": proposal_id, **outcome, "at": _now()}
    # The note names only what the butler itself chose (the tool, the outcome's code), never the summary's
    # item or player names: a model reads it with the authority of a system message.
    said = (f"The player confirmed proposal {proposal_id} ({outcome['tool']}) in the app; "
            + ("it was performed." if outcome["outcome"] == "ok" else f"it failed: {outcome.get('code')}."))
    try:
        await svc.conversations.record_confirmation(who.id, proposal_id, entry, {"role": "system", "content": said})
    except Exception:
        log.exception("the confirmation could not be recorded in its conversation")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/chat", chat)
    app.router.add_post("/v1/chat/confirm", confirm)
