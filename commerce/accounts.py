"""Accounts: registration, passwords (argon2id), access and refresh tokens, profiles.

Refresh tokens are random strings stored only as their SHA-256. Each belongs to a family
(one login); using one marks it used and issues the next in the family. Presenting a used
token again means it leaked, so the whole family is revoked: unless it comes back within
the reuse grace (a client retrying after a lost answer, or two tabs refreshing at once) and
its successor is still unused, in which case the answer is that same successor.

The successor of a refresh token is ``HMAC(k, token)``, ``k`` derived from the player signing
key. So every use of one token within the grace computes the same successor with nothing
secret stored, and two concurrent refreshes need no lock: both mark the token used (one
wins, the other sees it used just now) and both write the successor's record idempotently.
Whoever holds a refresh token cannot compute its successor without the key.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import serialization
from pymongo.errors import DuplicateKeyError

from commerce import ledger
from commerce.errors import Problem
from commerce.moderation import ban_problem, banned
from commerce.store import Doc, Session, Store, now
from commerce.validation import name_problem
from elysium import tokens

ISSUER = "elysium-commerce"
USERNAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{2,31}"
GUEST_NAME = "Guest"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int

    def body(self, account_id: str) -> dict[str, Any]:
        return {"account_id": account_id, "access_token": self.access_token, "token_type": "Bearer",
                "expires_in": self.expires_in, "refresh_token": self.refresh_token}


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _successor_key(signer: tokens.Signer) -> bytes:
    raw = signer.key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                   serialization.NoEncryption())
    return hashlib.sha256(b"elysium refresh successor\x00" + raw).digest()


def token_name(account: Doc) -> str:
    """The name an access token carries: the display name, or the username when a name stored
    before the text rules (``docs/commerce.md``) breaks them, so it never reaches a game or a feed."""
    name = account.get("display_name")
    if isinstance(name, str) and 1 <= len(name) <= 32 and unicodedata.is_normalized("NFC", name) \
            and name_problem(name) is None:
        return name
    return str(account.get("username") or GUEST_NAME)


# Roles an operator grants to accounts through the admin API: "creator" registers works and
# licenses them (docs/chain.md, "IP rights through commerce").
ROLES = ("creator",)


def roles_of(doc: Doc) -> list[str]:
    return [r for r in doc.get("roles", []) if r in ROLES]


def profile_body(doc: Doc) -> dict[str, Any]:
    return {"account_id": doc["_id"], "username": doc.get("username"), "display_name": doc["display_name"],
            "avatar_url": doc.get("avatar_url"), "region": doc.get("region"), "settings": doc.get("settings", {}),
            "roles": roles_of(doc), "guest": bool(doc.get("guest")), "eth_address": doc.get("eth_address"),
            "created_at": doc["created_at"].isoformat()}


def new_account(display_name: str, username: str | None = None, password_hash: str | None = None) -> Doc:
    """An account document. Without a username it is a guest's, whose unique username key is
    ``guest:<id>``: no username a player can choose holds a ``:``."""
    account_id = uuid.uuid4().hex
    at = now()
    doc: Doc = {"_id": account_id, "username": username,
                "username_lower": username.lower() if username else f"guest:{account_id}",
                "display_name": display_name, "avatar_url": None, "region": None, "settings": {},
                "created_at": at, "updated_at": at}
    if password_hash is not None:
        doc["password_hash"] = password_hash
    if username is None:
        doc["guest"] = True
    return doc


def guest_name() -> str:
    """A generated display name for a guest, which the player may change (``PATCH /v1/me``)."""
    return f"{GUEST_NAME}-{secrets.randbelow(10 ** 6):06d}"


class Accounts:
    def __init__(self, store: Store, signer: tokens.Signer, hasher: PasswordHasher, access_ttl_s: int,
                 refresh_ttl_s: int, signup_grant: dict[str, int], reuse_grace_s: float = 10.0,
                 clock: Callable[[], datetime] = now) -> None:
        self.store = store
        self.signer = signer
        self.hasher = hasher
        self.access_ttl_s = access_ttl_s
        self.refresh_ttl_s = refresh_ttl_s
        self.signup_grant = signup_grant
        self.reuse_grace_s = reuse_grace_s
        self.clock = clock
        self._successor_key = _successor_key(signer)
        # Verified against when the username is unknown, so both failures cost the same time.
        self._dummy_hash = hasher.hash(secrets.token_hex(16))

    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hasher.hash, password)

    async def _verify(self, stored: str, password: str) -> bool:
        def check() -> bool:
            try:
                return self.hasher.verify(stored, password)
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(check)

    def _access(self, account: Doc, family: str) -> str:
        return self.signer.issue(account["_id"], tokens.PLAYER_AUDIENCE, self.access_ttl_s,
                                 {"name": token_name(account), "sid": family})

    def _successor(self, refresh: str) -> str:
        mac = hmac.new(self._successor_key, refresh.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    async def issue(self, account: Doc) -> TokenPair:
        """A new login: a new family and its first refresh token."""
        family = uuid.uuid4().hex
        refresh = secrets.token_urlsafe(32)
        await self._record(refresh, account["_id"], family)
        return TokenPair(self._access(account, family), refresh, self.access_ttl_s)

    async def _record(self, refresh: str, account_id: str, family: str) -> None:
        """Store a refresh token once; a second write of the same token keeps the first."""
        at = self.clock()
        try:
            await self.store.refresh.update_one(
                {"_id": _hash_token(refresh)},
                {"$setOnInsert": {"account": account_id, "family": family, "used": False, "revoked": False,
                                  "created_at": at, "expires_at": at + timedelta(seconds=self.refresh_ttl_s)}},
                upsert=True)
        except DuplicateKeyError:
            pass  # a concurrent refresh of the same token wrote it first

    async def register(self, username: str, password: str, display_name: str | None) -> tuple[Doc, TokenPair]:
        doc = new_account(display_name or username, username, await self._hash(password))

        async def body(s: Session) -> None:
            if await self.store.accounts.find_one({"username_lower": doc["username_lower"]}, {"_id": 1}, session=s):
                raise Problem("username-taken", "that username is taken; choose another")
            await self.create_in(s, doc)

        await self.store.transaction(body)
        return doc, await self.issue(doc)

    async def create_in(self, s: Session, doc: Doc) -> None:
        """Write a new account, its wallets and its welcome grant within the transaction ``s``."""
        account_id, at = doc["_id"], doc["created_at"]
        await self.store.accounts.insert_one(doc, session=s)
        for currency in ledger.CURRENCIES:
            amount = self.signup_grant.get(currency, 0)
            await self.store.wallets.insert_one({"_id": ledger.wallet_id(account_id, currency),
                                                 "account": account_id, "currency": currency,
                                                 "balance": amount, "updated_at": at}, session=s)
            if amount:
                await self.store.ledger.insert_one(
                    {"_id": ledger.entry_id("signup", account_id, currency), "kind": "signup",
                     "account": account_id, "currency": currency, "delta": amount, "balance_after": amount,
                     "reason": "welcome grant", "ref": None, "items": [], "at": at}, session=s)

    async def set_credentials(self, account_id: str, username: str, password: str) -> Doc:
        """Give a guest account a username and password; its id, and so all it owns, stay the same."""
        taken = Problem("username-taken", "that username is taken; choose another")
        if await self.store.accounts.find_one({"username_lower": username.lower()}, {"_id": 1}):
            raise taken
        password_hash = await self._hash(password)
        try:
            done = await self.store.accounts.update_one(
                {"_id": account_id, "password_hash": {"$exists": False}, "system": {"$ne": True}},
                {"$set": {"username": username, "username_lower": username.lower(), "password_hash": password_hash,
                          "guest": False, "updated_at": now()}})
        except DuplicateKeyError:  # taken by a registration or another link since the look-up
            raise taken from None
        if done.matched_count != 1:
            await self.profile(account_id)  # unknown-account when it is gone
            raise Problem("credentials-exist", "this account already has a username and password; change the "
                                               "password with POST /v1/me/password")
        return await self.profile(account_id)

    async def login(self, username: str, password: str) -> tuple[Doc, TokenPair] | None:
        """The account and fresh tokens, or None on any failure (the caller cannot tell which)."""
        doc = await self.store.accounts.find_one({"username_lower": username.lower()})
        # A system account (the house) never logs in; nor by password a guest, which has none.
        if doc is None or doc.get("system") or not doc.get("password_hash"):
            await self._verify(self._dummy_hash, password)
            return None
        if not await self._verify(doc["password_hash"], password):
            return None
        if banned(doc):  # told only to whoever knows the password
            raise ban_problem(doc)
        if self.hasher.check_needs_rehash(doc["password_hash"]):
            await self.store.accounts.update_one({"_id": doc["_id"]},
                                                 {"$set": {"password_hash": await self._hash(password)}})
        return doc, await self.issue(doc)

    async def refresh(self, token: str) -> tuple[Doc, TokenPair]:
        """The next tokens of the login. A token used again within the grace gives the same successor."""
        h = _hash_token(token)
        at = self.clock()
        doc = await self.store.refresh.find_one({"_id": h})
        if doc is not None and doc["revoked"]:
            await self._refuse_banned(doc["account"])  # a ban revoked it: say so
        if doc is None or doc["revoked"] or doc["expires_at"] <= at:
            raise Problem("invalid-refresh-token", "the refresh token is unknown, expired or revoked; log in again")
        successor = self._successor(token)
        if not doc["used"]:
            taken = await self.store.refresh.update_one(
                {"_id": h, "used": False, "revoked": False},
                {"$set": {"used": True, "used_at": at, "successor": _hash_token(successor)}})
            if taken.matched_count != 1:  # a concurrent use got there first: judge this one as a second use
                doc = await self.store.refresh.find_one({"_id": h})
                if doc is None or doc["revoked"]:
                    raise Problem("invalid-refresh-token", "the refresh token was revoked; log in again")
        if doc["used"]:
            await self._second_use(doc, successor, at)
        await self._record(successor, doc["account"], doc["family"])
        # A logout or password change racing this refresh may have revoked the login before the
        # successor existed; looking again after writing it leaves no successor outliving it.
        current = await self.store.refresh.find_one({"_id": h}, {"revoked": 1})
        if current is None or current["revoked"]:
            await self._revoke_family(doc["family"])
            raise Problem("invalid-refresh-token", "the login was revoked; log in again")
        account = await self.store.accounts.find_one({"_id": doc["account"]})
        if account is None:
            raise Problem("invalid-refresh-token", "the account no longer exists")
        if banned(account):  # banned while this refresh ran (the ban revoked every token it found, the successor too)
            raise ban_problem(account)
        return account, TokenPair(self._access(account, doc["family"]), successor, self.access_ttl_s)

    async def _refuse_banned(self, account_id: str) -> None:
        account = await self.store.accounts.find_one({"_id": account_id}, {"moderation": 1})
        if account is not None and banned(account):
            raise ban_problem(account)

    async def _second_use(self, doc: Doc, successor: str, at: datetime) -> None:
        """Allow a used token once more only within the grace and while its successor is unused."""
        used_at = doc.get("used_at")
        fresh = used_at is not None and (at - used_at).total_seconds() <= self.reuse_grace_s
        if fresh and doc.get("successor") == _hash_token(successor):
            next_doc = await self.store.refresh.find_one({"_id": doc["successor"]}, {"used": 1, "revoked": 1})
            if next_doc is None or not (next_doc["used"] or next_doc["revoked"]):
                return
        await self._revoke_family(doc["family"])
        raise Problem("refresh-token-reused", "this refresh token was already used; every token of this login "
                                              "is now revoked; log in again")

    async def _revoke_family(self, family: str) -> None:
        await self.store.refresh.update_many({"family": family}, {"$set": {"revoked": True}})

    async def logout(self, token: str) -> str | None:
        """Revoke the token's login; the account it belonged to, or None for an unknown token."""
        doc = await self.store.refresh.find_one({"_id": _hash_token(token)}, {"family": 1, "account": 1})
        if doc is None:
            return None
        await self._revoke_family(doc["family"])
        return str(doc["account"])

    async def change_password(self, account_id: str, current: str, new: str) -> bool:
        doc = await self.store.accounts.find_one({"_id": account_id})
        if doc is not None and not doc.get("password_hash"):
            raise Problem("no-credentials", "this guest account has no password; link a username and password "
                                            "with POST /v1/me/credentials")
        if doc is None or not await self._verify(doc["password_hash"], current):
            return False
        new_hash = await self._hash(new)
        await self.store.accounts.update_one({"_id": account_id},
                                             {"$set": {"password_hash": new_hash, "updated_at": now()}})
        await self.store.refresh.update_many({"account": account_id}, {"$set": {"revoked": True}})
        return True

    async def profile(self, account_id: str) -> Doc:
        doc = await self.store.accounts.find_one({"_id": account_id})
        if doc is None:
            raise Problem("unknown-account", "this account no longer exists")
        return doc

    async def edit_profile(self, account_id: str, changes: dict[str, Any]) -> Doc:
        changes = {**changes, "updated_at": now()}
        done = await self.store.accounts.update_one({"_id": account_id}, {"$set": changes})
        if done.matched_count != 1:
            raise Problem("unknown-account", "this account no longer exists")
        return await self.profile(account_id)

    async def set_role(self, account_id: str, role: str, held: bool) -> Doc:
        """Grant (``held``) or take away one of :data:`ROLES`; the account as it is now. Doing it twice is harmless."""
        if role not in ROLES:
            raise Problem("unknown-role", f"there is no role {role[:64]!r}; roles are {', '.join(ROLES)}")
        change: Doc = {"$addToSet": {"roles": role}} if held else {"$pull": {"roles": role}}
        done = await self.store.accounts.update_one({"_id": account_id}, {**change, "$set": {"updated_at": now()}})
        if done.matched_count != 1:
            raise Problem("unknown-account", "there is no such account")
        return await self.profile(account_id)

    async def exists(self, account_id: str) -> bool:
        return await self.store.accounts.find_one({"_id": account_id}, {"_id": 1}) is not None
