"""Linking a wallet with Sign-In with Ethereum (EIP-4361): challenges in Redis, the link on the account.

A challenge is one Redis hash per player, ``elysium:commerce:siwe:{account}`` holding the
``nonce`` and the ``address`` it was asked for, expiring with the message
(``ELYSIUM_SIWE_CHALLENGE_TTL_S``). A new challenge replaces the player's previous one, so a
player holds at most one key however often it asks.

A link checks, in this order, each refusal changing nothing: the strict grammar
(:mod:`commerce.siwe`), the domain, the chain id, the message's times against the clock, the
nonce and address against the player's challenge, the ``personal_sign`` signature (it must
recover the message's address), and that the address is not another account's. Only then is
the nonce spent, by one script that deletes the challenge if it still holds that nonce: of two
links racing with one message, one spends it and the other is refused ``siwe-nonce``. The
address is then set on the account, where a unique index keeps one account per address.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

import redis.asyncio as aioredis
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_keys.exceptions import BadSignature
from eth_utils.address import to_checksum_address
from pymongo.errors import DuplicateKeyError

from commerce import siwe
from commerce.errors import Problem
from commerce.store import Conflict, Doc, Session, Store, now
from elysium import redisreply

PREFIX = "elysium:commerce:siwe:"
STATEMENT = "Link this wallet to your Elysium account."
# Custody states of an item on its way to the linked address: while one exists the wallet stays linked.
UNLINK_BLOCKED = ("withdrawing",)

# KEYS: the challenge. ARGV: the nonce. Deletes the challenge only if it still holds that nonce.
_SPEND = """
if redis.call('HGET', KEYS[1], 'nonce') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""


def challenge_key(account: str) -> str:
    return f"{PREFIX}{account}"


def recover(message: str, signature: str) -> str | None:
    """The address whose key made the ``personal_sign`` ``signature`` of ``message``, or None."""
    try:
        return str(Account.recover_message(encode_defunct(text=message), signature=signature))
    except (BadSignature, ValueError):
        return None


class WalletLinks:
    def __init__(self, store: Store, redis: aioredis.Redis, domain: str, chain_id: int, ttl_s: int,
                 clock: Callable[[], datetime] = now) -> None:
        self.store = store
        self.redis = redis
        self.domain = domain
        self.chain_id = chain_id
        self.ttl_s = ttl_s
        self.clock = clock
        self._spend = redis.register_script(_SPEND)

    @property
    def uri(self) -> str:
        return f"https://{self.domain}/"

    async def challenge(self, account: str, address: str) -> siwe.SiweMessage:
        """A new message for ``account`` to sign with ``address``'s key; it replaces any earlier one."""
        at = self.clock().replace(microsecond=0)
        message = siwe.SiweMessage(domain=self.domain, address=to_checksum_address(address), uri=self.uri,
                                   chain_id=self.chain_id, nonce=secrets.token_hex(16), issued_at=at,
                                   statement=STATEMENT, expiration_time=at + timedelta(seconds=self.ttl_s))
        key = challenge_key(account)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping={"nonce": message.nonce, "address": message.address})
            pipe.expire(key, self.ttl_s)
            await pipe.execute()
        return message

    def _check_message(self, text: str) -> siwe.SiweMessage:
        try:
            message = siwe.parse(text)
        except siwe.MessageError as exc:
            raise Problem("siwe-message-invalid", f"the message is not a Sign-In with Ethereum message: {exc}",
                          errors={"message": str(exc)}) from None
        if message.domain != self.domain or message.scheme not in (None, "https"):
            raise Problem("siwe-domain", f"the message must be for {self.domain}, not {message.domain[:128]}")
        if message.chain_id != self.chain_id:
            raise Problem("siwe-chain-id", f"the message must name chain id {self.chain_id}, not {message.chain_id}")
        at = self.clock()
        if message.expiration_time is not None and at >= message.expiration_time:
            raise Problem("siwe-expired", "the message has expired; ask for a new challenge")
        if at < message.issued_at or (message.not_before is not None and at < message.not_before):
            raise Problem("siwe-not-yet-valid", "the message is not valid yet (its Issued At or Not Before is "
                                                "in the future)")
        return message

    async def link(self, account: str, text: str, signature: str) -> Doc:
        """Check the signed message and record its address on ``account``; the account after the link."""
        message = self._check_message(text)
        challenge = redisreply.text_map(await self.redis.hgetall(challenge_key(account)))
        if challenge.get("nonce") != message.nonce:
            raise Problem("siwe-nonce", "the nonce is unknown, used, expired or not from your latest challenge; "
                                        "ask for a new one")
        if challenge.get("address") != message.address:
            raise Problem("siwe-address", "the message names another address than the one you asked to link")
        signer = await asyncio.to_thread(recover, text, signature)
        if signer != message.address:
            raise Problem("siwe-signature", "the signature was not made by the message's address over this message")
        holder = await self.store.accounts.find_one({"eth_address": message.address}, {"_id": 1})
        if holder is not None and holder["_id"] != account:
            raise Problem("wallet-taken", "that address is linked to another account")
        doc = await self.store.accounts.find_one({"_id": account})
        if doc is None:
            raise Problem("unknown-account", "this account no longer exists")
        linked = doc.get("eth_address")
        if linked is not None and linked != message.address:
            raise Problem("wallet-already-linked", f"{linked} is linked to this account; unlink it first")
        if not redisreply.integer(await self._spend(keys=[challenge_key(account)], args=[message.nonce])):
            raise Problem("siwe-nonce", "the nonce was just used; ask for a new challenge")
        if linked == message.address:
            return doc
        return await self._record(account, message.address)

    async def _record(self, account: str, address: str) -> Doc:
        try:
            done = await self.store.accounts.update_one(
                {"_id": account, "eth_address": {"$exists": False}},
                {"$set": {"eth_address": address, "eth_linked_at": self.clock(), "updated_at": now()}})
        except DuplicateKeyError:  # another account linked it since the look-up
            raise Problem("wallet-taken", "that address is linked to another account") from None
        doc = await self.store.accounts.find_one({"_id": account})
        if doc is None:
            raise Problem("unknown-account", "this account no longer exists")
        if done.matched_count != 1 and doc.get("eth_address") != address:
            raise Problem("wallet-already-linked", f"{doc.get('eth_address')} was linked to this account meanwhile")
        return doc

    async def unlink(self, account: str) -> str:
        """Forget the linked address; refused while an item is on its way to it. The address unlinked."""

        async def body(s: Session) -> str:
            doc = await self.store.accounts.find_one({"_id": account}, {"eth_address": 1}, session=s)
            if doc is None:
                raise Problem("unknown-account", "this account no longer exists")
            address = doc.get("eth_address")
            if address is None:
                raise Problem("wallet-not-linked", "no wallet is linked to this account")
            busy = await self.store.items.find_one({"owner": account, "custody": {"$in": list(UNLINK_BLOCKED)}},
                                                   {"_id": 1}, session=s)
            if busy is not None:
                raise Problem("wallet-busy", "an item is being withdrawn to this address; unlink it once the "
                                             "withdrawal has ended")
            done = await self.store.accounts.update_one({"_id": account, "eth_address": address},
                                                        {"$unset": {"eth_address": "", "eth_linked_at": ""},
                                                         "$set": {"updated_at": now()}}, session=s)
            if done.matched_count != 1:
                raise Conflict()
            return str(address)

        return await self.store.transaction(body)
