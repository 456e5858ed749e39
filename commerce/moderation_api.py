"""The moderation routes of the admin API, their OpenAPI operations, and the moderation watch's place in the app.

Operators ban, unban, mute and unmute accounts with a service token holding the
``commerce:admin`` or the ``commerce:moderation`` scope; every action is one entry of the
append-only moderation log (``docs/commerce.md``, *Moderation*).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from commerce.api import ADMIN_SCOPE, MODERATION_SCOPE, _body, _limit, _query, admin
from commerce.appkeys import MODERATION, REDIS, STORE
from commerce.errors import Problem
from commerce.moderation import ACCOUNT_ID, ENTRY_ID, MAX_DURATION_S, MAX_REASON_CHARS, Moderation
from commerce.openapi import IDEMPOTENCY, LIMIT, WHOLE, _op, _ref, object_schema
from commerce.validation import Field, password_problem
from elysium.http import idempotency_key, json_response
from elysium.moderation import Action, ModerationWatch

log = logging.getLogger("commerce.moderation")

SCOPES = (ADMIN_SCOPE, MODERATION_SCOPE)
# A reason is free text for the log: no control characters and not blank (the rule of new passwords).
REASON = Field(str, min=1, max=MAX_REASON_CHARS, nfc=True, extra=password_problem)
DURATION = Field(int, min=1, max=MAX_DURATION_S)
BODIES: dict[Action, dict[str, Field]] = {
    "ban": {"reason": REASON, "duration_s": Field(int, required=False, nullable=True, min=1, max=MAX_DURATION_S)},
    "unban": {"reason": Field(str, required=False, min=1, max=MAX_REASON_CHARS, nfc=True, extra=password_problem)},
    "mute": {"reason": REASON, "duration_s": DURATION},
    "unmute": {"reason": Field(str, required=False, min=1, max=MAX_REASON_CHARS, nfc=True, extra=password_problem)},
}
SUMMARIES: dict[Action, str] = {
    "ban": "Ban an account: its sessions end, its tokens are refused everywhere, its tickets, party and seats are "
           "released and a running match kicks it; without duration_s until it is lifted",
    "unban": "Lift an account's ban: it may log in again (its old sessions stay ended)",
    "mute": "Mute an account in chat for duration_s seconds",
    "unmute": "Lift an account's mute",
}


def _account(request: web.Request) -> str:
    account_id = request.match_info["account_id"]
    if not re.fullmatch(ACCOUNT_ID, account_id):
        raise Problem("unknown-account", "there is no such account (ids are 1 to 64 of A-Z a-z 0-9 _ . : -)")
    return account_id


def _handler(action: Action) -> Any:
    async def handle(request: web.Request) -> web.Response:
        claims = admin(request, SCOPES)
        key = idempotency_key(request)
        account_id = _account(request)
        body = await _body(request, BODIES[action])
        outcome = await request.app[MODERATION].act(action, account_id, by=str(claims["sub"])[:128],
                                                    reason=body.get("reason", ""),
                                                    duration_s=body.get("duration_s"), key=key)
        return json_response(outcome.body, 200 if outcome.replayed else 201,
                             {"Idempotent-Replayed": "true" if outcome.replayed else "false"})

    handle.__name__ = f"{action}_account"
    return handle


async def account_state(request: web.Request) -> web.Response:
    admin(request, SCOPES)
    return json_response(await request.app[MODERATION].state(_account(request)))


async def moderation_log(request: web.Request) -> web.Response:
    admin(request, SCOPES)
    _query(request, "account", "limit", "before")
    account = request.query.get("account")
    if account is not None and not re.fullmatch(ACCOUNT_ID, account):
        raise Problem("invalid-request", "account must be an account id",
                      errors={"account": "1 to 64 of A-Z a-z 0-9 _ . : -"})
    before = request.query.get("before")
    if before is not None and not re.fullmatch(ENTRY_ID, before):
        raise Problem("invalid-request", "before must be the id of the last entry of the previous page",
                      errors={"before": "is not a moderation log entry id"})
    entries, following = await request.app[MODERATION].page(account, _limit(request), before)
    return json_response({"entries": entries, "next": following})


def add_routes(app: web.Application) -> None:
    for action in BODIES:
        app.router.add_post(f"/v1/admin/accounts/{{account_id}}/{action}", _handler(action))
    app.router.add_get("/v1/admin/accounts/{account_id}/moderation", account_state)
    app.router.add_get("/v1/admin/moderation/log", moderation_log)


# --- the watch and the start-up repair ----------------------------------------------------------

async def lifecycle(app: web.Application) -> AsyncIterator[None]:
    """This replica's copy of the bans (refusing banned tokens), and Redis repaired from MongoDB once at start."""
    moderation = Moderation(app[STORE], app[REDIS], ModerationWatch(app[REDIS]))
    app[MODERATION] = moderation
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(moderation.watch.run(stop), name="moderation-watch"),
             loop.create_task(_repair(moderation, stop), name="moderation-repair")]
    await moderation.watch.wait_ready()  # ready once it knows who is banned (Redis down: not ready anyway)
    yield
    stop.set()
    for task in tasks:  # neither holds anything to finish: the watch only reads, the repair is redone at start
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _repair(moderation: Moderation, stop: asyncio.Event) -> None:
    """Repair Redis from MongoDB, retried until it has been done once (a backing service may be starting too)."""
    while not stop.is_set():
        try:
            await moderation.repair()
            return
        except (RedisError, PyMongoError, OSError) as exc:
            log.warning("moderation repair postponed", extra={"error": str(exc)[:300]})
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass


# --- OpenAPI ------------------------------------------------------------------------------------

ENTRY = {"type": "object", "properties": {
    "id": {"type": "string", "pattern": f"^{ENTRY_ID}$"}, "account_id": {"type": "string"},
    "action": {"enum": list(BODIES)}, "reason": {"type": "string"},
    "duration_s": {"type": ["integer", "null"]},
    "until": {"type": ["string", "null"], "format": "date-time",
              "description": "when the ban or mute ends; null: until lifted (or a lifting)"},
    "by": {"type": "string", "description": "the service token's subject (the operator)"},
    "at": {"type": "string", "format": "date-time"}}}
IN_FORCE = {"type": ["object", "null"], "description": "null when none is in force", "properties": {
    "until": {"type": ["string", "null"], "format": "date-time"}, "reason": {"type": "string"},
    "action_id": {"type": "string"}, "by": {"type": "string"}, "at": {"type": "string", "format": "date-time"}}}
SCHEMAS: dict[str, Any] = {
    "ModerationEntry": ENTRY,
    "ModerationState": {"type": "object", "properties": {"account_id": {"type": "string"}, "ban": IN_FORCE,
                                                         "mute": IN_FORCE}},
    "ModerationLog": {"type": "object", "properties": {
        "entries": {"type": "array", "items": _ref("ModerationEntry")},
        "next": {"type": ["string", "null"], "description": "pass as before for the next page; null on the last"}}},
}
ACCOUNT_PARAM = {"name": "account_id", "in": "path", "required": True,
                 "schema": {"type": "string", "pattern": f"^{ACCOUNT_ID}$"}}


def _action_body(action: Action) -> dict[str, Any]:
    body = object_schema(BODIES[action])
    if "duration_s" in body["properties"]:
        body["properties"]["duration_s"]["description"] = (
            f"{WHOLE}; seconds, 1 to {MAX_DURATION_S}" + ("; absent or null: until lifted" if action == "ban" else ""))
    return body


def openapi_paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for action in BODIES:
        paths[f"/v1/admin/accounts/{{account_id}}/{action}"] = {"post": _op(
            f"{action}Account", "moderation", SUMMARIES[action], 201, _ref("ModerationEntry"),
            (401, 403, 404, 409, 422, 503), auth="service", body=_action_body(action),
            params=[IDEMPOTENCY, ACCOUNT_PARAM], replay=True)}
    paths["/v1/admin/accounts/{account_id}/moderation"] = {"get": _op(
        "getAccountModeration", "moderation", "The ban and the mute in force on an account", 200,
        _ref("ModerationState"), (401, 403, 404), auth="service", params=[ACCOUNT_PARAM])}
    paths["/v1/admin/moderation/log"] = {"get": _op(
        "listModerationLog", "moderation", "The moderation log, newest first, in pages", 200, _ref("ModerationLog"),
        (400, 401, 403, 404), auth="service", params=[
            {"name": "account", "in": "query", "required": False, "description": "only this account's entries",
             "schema": {"type": "string", "pattern": f"^{ACCOUNT_ID}$"}},
            LIMIT, {"name": "before", "in": "query", "required": False,
                    "description": "next of the previous page; an id the log does not hold: 404 "
                                   "unknown-moderation-entry",
                    "schema": {"type": "string", "pattern": f"^{ENTRY_ID}$"}}])}
    return paths
