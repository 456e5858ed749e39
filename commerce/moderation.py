"""Moderation: bans and mutes of accounts, and the append-only moderation log.

MongoDB holds the truth: each account's ``moderation.ban`` and ``moderation.mute`` (the
latest action of that kind: ``active``, ``until``, ``reason``, ``action_id``, ``at``, ``by``)
and the ``moderation_log`` collection, one entry per action, never changed or deleted. An
action is one transaction: its log entry, the account's new state and, for a ban, every
refresh token of the account revoked (its sessions end). The Idempotency-Key makes a retry
answer the first outcome: the log entry carries the key's hash (unique) and a fingerprint
of the request.

Redis is a mirror every service reads (:mod:`elysium.moderation`). After the transaction
:meth:`Moderation.mirror` writes the account's state as MongoDB has it, with its event,
and looks again: two actions on one account in a race both end with Redis saying what
MongoDB says last. A retry mirrors again, so a Redis write lost after the commit is made
good by the retry, and :meth:`Moderation.repair` (at start) by the next start.
"""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import redis.asyncio as aioredis
from pymongo import DESCENDING

from commerce import ledger
from commerce.errors import Problem
from commerce.store import Doc, Session, Store, now, page_after
from elysium import moderation
from elysium.moderation import Action, Kind, ModerationEvent, ModerationWatch

log = logging.getLogger("commerce.moderation")

ACCOUNT_ID: Final = r"[A-Za-z0-9_.:-]{1,64}"
ENTRY_ID: Final = r"mod_[0-9a-f]{32}"
MAX_DURATION_S: Final = 10 * 365 * 86_400  # ten years; longer is "until lifted" (no duration)
MAX_REASON_CHARS: Final = 500
MIRROR_ATTEMPTS: Final = 5
KIND_OF: Final[dict[Action, Kind]] = {"ban": "ban", "unban": "ban", "mute": "mute", "unmute": "mute"}
KINDS: Final[tuple[Kind, ...]] = ("ban", "mute")
NOT_IN_FORCE: Final[dict[Kind, str]] = {"ban": "not-banned", "mute": "not-muted"}


class Replay(Exception):
    """The log already holds this Idempotency-Key's action."""

    def __init__(self, entry: Doc) -> None:
        super().__init__(entry["_id"])
        self.entry = entry


@dataclass(frozen=True)
class Outcome:
    body: dict[str, Any]
    replayed: bool


def in_force(state: Doc | None, at: datetime) -> bool:
    """Whether a stored ban or mute holds at ``at``."""
    if not state or not state.get("active"):
        return False
    until = state.get("until")
    return until is None or until > at


def banned(account: Doc, at: datetime | None = None) -> bool:
    """Whether the account document says it is banned now."""
    return in_force((account.get("moderation") or {}).get("ban"), at or now())


def _banned_until(until: datetime | None) -> Problem:
    return Problem("account-banned", "this account is banned" + (f" until {until.isoformat()}" if until else "")
                   + "; an operator can tell you why", until=until.isoformat() if until else None)


def ban_problem(account: Doc) -> Problem:
    """The refusal a banned account gets at login and refresh (the account document says it is banned)."""
    return _banned_until(account["moderation"]["ban"].get("until"))


def token_refusal(watch: ModerationWatch, account_id: str) -> Problem | None:
    """The refusal of a banned account's access token, from this replica's copy of the bans; None when not banned."""
    if not watch.banned(account_id):
        return None
    end = watch.bans[account_id]
    return _banned_until(None if math.isinf(end) else datetime.fromtimestamp(end / 1000, UTC))


def _whole_ms(at: datetime) -> datetime:
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def entry_body(entry: Doc) -> dict[str, Any]:
    until = entry.get("until")
    return {"id": entry["_id"], "account_id": entry["account"], "action": entry["action"], "reason": entry["reason"],
            "duration_s": entry.get("duration_s"), "until": until.isoformat() if until else None,
            "by": entry["by"], "at": entry["at"].isoformat()}


def state_body(account_id: str, account: Doc, at: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {"account_id": account_id}
    for kind in KINDS:
        state: Doc | None = (account.get("moderation") or {}).get(kind)
        if state is None or not in_force(state, at):
            out[kind] = None
            continue
        until = state.get("until")
        out[kind] = {"until": until.isoformat() if until else None, "reason": state["reason"],
                     "action_id": state["action_id"], "by": state["by"], "at": state["at"].isoformat()}
    return out


def event_of(kind: Kind, account_id: str, state: Doc | None) -> ModerationEvent:
    """The event that makes Redis say what ``state`` (an account's stored ban or mute) says."""
    action_id = state["action_id"] if state else ""
    at_ms = _ms(state["at"]) if state else _ms(now())
    if state and state.get("active"):
        until = state.get("until")
        return ModerationEvent(kind, account_id, _ms(until) if until else None, action_id, at_ms)
    return ModerationEvent("unban" if kind == "ban" else "unmute", account_id, None, action_id, at_ms)


class Moderation:
    """Bans, mutes and the log. ``watch`` is this replica's copy of who is banned; its own actions
    update it at once, the other replicas' reach it through the events."""

    def __init__(self, store: Store, redis: aioredis.Redis, watch: ModerationWatch,
                 clock: Callable[[], datetime] = now) -> None:
        self.store = store
        self.redis = redis
        self.watch = watch
        self.clock = clock
        self.log = store.moderation_log

    async def act(self, action: Action, account_id: str, *, by: str, reason: str, duration_s: int | None,
                  key: str) -> Outcome:
        kind = KIND_OF[action]
        key_hash = hashlib.sha256(f"{by}\x00{key}".encode()).hexdigest()
        fp = ledger.fingerprint({"action": action, "account_id": account_id, "reason": reason,
                                 "duration_s": duration_s})

        async def body(s: Session) -> Doc:
            earlier = await self.log.find_one({"key": key_hash}, session=s)
            if earlier is not None:
                raise Replay(earlier)
            account = await self.store.accounts.find_one({"_id": account_id}, {"moderation": 1, "system": 1},
                                                         session=s)
            if account is None or account.get("system"):
                raise Problem("unknown-account", f"there is no player account {account_id}")
            at = _whole_ms(self.clock())  # what MongoDB keeps of a time, so a replay answers the same
            current = (account.get("moderation") or {}).get(kind)
            imposes = action in (moderation.BAN, moderation.MUTE)
            if not imposes and not in_force(current, at):
                what = "banned" if kind == "ban" else "muted"
                raise Problem(NOT_IN_FORCE[kind], f"account {account_id} is not {what}; nothing was changed")
            until = at + timedelta(seconds=duration_s) if imposes and duration_s is not None else None
            entry: Doc = {"_id": f"mod_{uuid.uuid4().hex}", "key": key_hash, "fingerprint": fp,
                          "account": account_id, "action": action, "reason": reason, "duration_s": duration_s,
                          "until": until, "by": by, "at": at}
            state = {"active": imposes, "until": until, "reason": reason, "action_id": entry["_id"], "at": at,
                     "by": by}
            await self.log.insert_one(entry, session=s)
            await self.store.accounts.update_one({"_id": account_id}, {"$set": {f"moderation.{kind}": state}},
                                                 session=s)
            if action == moderation.BAN:
                await self.store.refresh.update_many({"account": account_id, "revoked": False},
                                                     {"$set": {"revoked": True}}, session=s)
            return entry

        try:
            entry = await self.store.transaction(body)
            replayed = False
        except Replay as exc:
            if exc.entry.get("fingerprint") != fp:
                raise Problem("idempotency-key-reused", "this Idempotency-Key was used for a different "
                                                        "moderation request; use a new key") from None
            entry, replayed = exc.entry, True
        await self.mirror(kind, entry["account"])
        log.info("moderation action", extra={"action": action, "account": account_id, "by": by[:128],
                                             "action_id": entry["_id"], "replayed": replayed,
                                             "duration_s": duration_s})
        return Outcome(entry_body(entry), replayed)

    async def mirror(self, kind: Kind, account_id: str) -> None:
        """Write the account's ``kind`` state to Redis with its event, until MongoDB still says the same after."""
        field = f"moderation.{kind}"
        state = await self._state(field, account_id)
        for _ in range(MIRROR_ATTEMPTS):
            event = event_of(kind, account_id, state)
            await moderation.publish(self.redis, event, now_ms=_ms(self.clock()))
            self.watch.apply(event)
            again = await self._state(field, account_id)
            if (again or {}).get("action_id") == (state or {}).get("action_id"):
                return
            state = again
        log.warning("moderation state kept changing while mirrored; the next action or start repairs it",
                    extra={"account": account_id, "kind": kind})

    async def _state(self, field: str, account_id: str) -> Doc | None:
        doc = await self.store.accounts.find_one({"_id": account_id}, {field: 1})
        state: Doc | None = ((doc or {}).get("moderation") or {}).get(field.split(".")[1])
        return state

    async def repair(self) -> int:
        """Make Redis agree with MongoDB for every account either holds as banned or muted; how many were wrong."""
        at = self.clock()
        fixed = 0
        for kind in KINDS:
            in_redis = await moderation.active(self.redis, kind, now_ms=_ms(at))
            in_mongo: dict[str, int | None] = {}
            async for doc in self.store.accounts.find({f"moderation.{kind}.active": True}, {f"moderation.{kind}": 1}):
                state = doc["moderation"][kind]
                if in_force(state, at):
                    in_mongo[doc["_id"]] = _ms(state["until"]) if state.get("until") else None
            for account_id in sorted(set(in_redis) | set(in_mongo)):
                if in_redis.get(account_id, -1) != in_mongo.get(account_id, -1):
                    await self.mirror(kind, account_id)
                    fixed += 1
        if fixed:
            log.warning("moderation state in Redis repaired from MongoDB", extra={"accounts": fixed})
        return fixed

    # --- reads ------------------------------------------------------------------------------

    async def state(self, account_id: str) -> dict[str, Any]:
        account = await self.store.accounts.find_one({"_id": account_id}, {"moderation": 1, "system": 1})
        if account is None or account.get("system"):
            raise Problem("unknown-account", f"there is no player account {account_id}")
        return state_body(account_id, account, self.clock())

    async def page(self, account_id: str | None, limit: int, before: str | None) -> tuple[list[dict[str, Any]],
                                                                                          str | None]:
        """Log entries, newest first; the id to pass as ``before`` for the next page (None: this is the last)."""
        query: Doc = {} if account_id is None else {"account": account_id}
        query = await page_after(self.log, query, "at", before, "unknown-moderation-entry")
        cursor = self.log.find(query).sort([("at", DESCENDING), ("_id", DESCENDING)]).limit(limit + 1)
        entries = [entry_body(e) async for e in cursor]
        more = len(entries) > limit
        entries = entries[:limit]
        return entries, entries[-1]["id"] if more else None

