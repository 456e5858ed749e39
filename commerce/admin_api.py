"""The operator console's reads of commerce: account search and the last audit.

``GET /v1/admin/accounts?q=&after=&limit=`` finds accounts by id, by username prefix or by
display-name prefix (case-insensitive), in pages ordered by account id, each with the ban
and the mute in force. ``GET /v1/admin/audit/latest`` is what the last ``elysium audit``
found (it records its result in MongoDB, :func:`record_audit`), or ``null`` before the
first. Service token with ``commerce:admin`` (the search also takes ``commerce:moderation``,
since moderators look accounts up before they act).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from aiohttp import web
from pymongo import ASCENDING

from commerce.api import ADMIN_SCOPE, MODERATION_SCOPE, _limit, _query, admin
from commerce.appkeys import STORE
from commerce.errors import Problem
from commerce.moderation import ACCOUNT_ID, state_body
from commerce.openapi import LIMIT, _op, _ref
from commerce.store import Doc, Store, now
from elysium.http import json_response

MAX_QUERY_CHARS = 64
AUDIT_ID = "audit:latest"  # the meta document holding the last audit's result
MAX_AUDIT_PROBLEMS = 100  # problems kept with the result (the count is kept whole)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/admin/accounts", search_accounts)
    app.router.add_get("/v1/admin/audit/latest", latest_audit)


def _literal(text: str) -> str:
    """``text`` as a regular expression matching itself, with no raw control character (a NUL cannot be stored)."""
    return "".join(f"\\x{ord(c):02x}" if ord(c) < 32 else re.escape(c) for c in text)


def _search(q: str) -> Doc:
    lower = q.lower()
    return {"$or": [{"_id": q}, {"username_lower": {"$gte": lower, "$lt": lower + "\uffff"}},
                    {"display_name": {"$regex": "^" + _literal(q), "$options": "i"}}]}


def account_row(doc: Doc, at: datetime) -> dict[str, Any]:
    state = state_body(doc["_id"], doc, at)
    return {"account_id": doc["_id"], "username": doc.get("username"), "display_name": doc.get("display_name"),
            "guest": bool(doc.get("guest")), "created_at": doc["created_at"].isoformat(),
            "banned": state["ban"], "muted": state["mute"]}


async def search_accounts(request: web.Request) -> web.Response:
    admin(request, (ADMIN_SCOPE, MODERATION_SCOPE))
    _query(request, "q", "after", "limit")
    q = request.query.get("q", "").strip()
    if len(q) > MAX_QUERY_CHARS:
        raise Problem("invalid-request", f"q is at most {MAX_QUERY_CHARS} characters",
                      errors={"q": f"0 to {MAX_QUERY_CHARS} characters"})
    after = request.query.get("after")
    if after is not None and not re.fullmatch(ACCOUNT_ID, after):
        raise Problem("invalid-request", "after must be the last account id of the previous page",
                      errors={"after": "is not an account id"})
    limit = _limit(request)
    clauses: list[Doc] = [{"system": {"$ne": True}}]
    if q:
        clauses.append(_search(q))
    if after is not None:
        clauses.append({"_id": {"$gt": after}})
    store: Store = request.app[STORE]
    fields = {"username": 1, "display_name": 1, "guest": 1, "created_at": 1, "moderation": 1}
    cursor = store.accounts.find({"$and": clauses}, fields).sort([("_id", ASCENDING)]).limit(limit + 1)
    docs = [d async for d in cursor]
    at = now()
    rows = [account_row(d, at) for d in docs[:limit]]
    return json_response({"accounts": rows, "next": rows[-1]["account_id"] if len(docs) > limit else None})


async def latest_audit(request: web.Request) -> web.Response:
    admin(request)
    _query(request)
    doc = await request.app[STORE].meta.find_one({"_id": AUDIT_ID})
    return json_response(None if doc is None else audit_body(doc))


def audit_body(doc: Doc) -> dict[str, Any]:
    return {"ok": bool(doc["ok"]), "at": doc["at"].isoformat(), "took_s": doc.get("took_s"),
            "counts": doc.get("counts", {}), "problem_count": int(doc.get("problem_count", 0)),
            "problems": list(doc.get("problems", [])), "chain_checked": bool(doc.get("chain_checked"))}


async def record_audit(store: Store, ok: bool, counts: dict[str, int], problems: list[str], took_s: float,
                       chain_checked: bool) -> None:
    """Keep what ``elysium audit`` found as the latest result (one document, replaced each run)."""
    await store.meta.replace_one({"_id": AUDIT_ID}, {
        "_id": AUDIT_ID, "ok": ok, "at": now(), "took_s": round(took_s, 3), "counts": counts,
        "problem_count": len(problems), "problems": problems[:MAX_AUDIT_PROBLEMS], "chain_checked": chain_checked,
    }, upsert=True)


# --- OpenAPI ------------------------------------------------------------------------------------

IN_FORCE = {"type": ["object", "null"], "description": "null when none is in force", "properties": {
    "until": {"type": ["string", "null"], "format": "date-time"}, "reason": {"type": "string"},
    "action_id": {"type": "string"}, "by": {"type": "string"}, "at": {"type": "string", "format": "date-time"}}}
SCHEMAS: dict[str, Any] = {
    "AdminAccount": {"type": "object", "properties": {
        "account_id": {"type": "string"}, "username": {"type": ["string", "null"]},
        "display_name": {"type": "string"}, "guest": {"type": "boolean"},
        "created_at": {"type": "string", "format": "date-time"}, "banned": IN_FORCE, "muted": IN_FORCE}},
    "AdminAccounts": {"type": "object", "properties": {
        "accounts": {"type": "array", "items": _ref("AdminAccount")},
        "next": {"type": ["string", "null"], "description": "pass as after for the next page; null on the last"}}},
    "AuditResult": {"type": ["object", "null"], "description": "null: elysium audit has never run", "properties": {
        "ok": {"type": "boolean"}, "at": {"type": "string", "format": "date-time"}, "took_s": {"type": "number"},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "problem_count": {"type": "integer"},
        "problems": {"type": "array", "items": {"type": "string"},
                     "description": f"the first {MAX_AUDIT_PROBLEMS} problems found"},
        "chain_checked": {"type": "boolean"}}},
}


def openapi_paths() -> dict[str, Any]:
    return {
        "/v1/admin/accounts": {"get": _op(
            "searchAccounts", "admin", "Find accounts by id, username prefix or display-name prefix, with their "
            "ban and mute (scope commerce:admin or commerce:moderation)", 200, _ref("AdminAccounts"),
            (400, 401, 403), auth="service", params=[
                {"name": "q", "in": "query", "required": False, "description": "an account id, or the start of a "
                 "username or display name (case-insensitive); absent: every account",
                 "schema": {"type": "string", "maxLength": MAX_QUERY_CHARS}},
                {"name": "after", "in": "query", "required": False, "description": "next of the previous page",
                 "schema": {"type": "string", "pattern": f"^{ACCOUNT_ID}$"}}, LIMIT])},
        "/v1/admin/audit/latest": {"get": _op(
            "getLatestAudit", "admin", "What the last elysium audit found, or null before the first", 200,
            _ref("AuditResult"), (401, 403), auth="service")},
    }
