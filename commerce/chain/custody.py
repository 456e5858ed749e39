"""Withdrawing items to the chain and taking deposits back: MongoDB on one side, the chain on the other.

A withdrawal is a document in ``withdrawals`` (id from the account and the Idempotency-Key) and
moves through :mod:`commerce.chain.custody_rules`:

1. one transaction: the item ``in_game`` → ``withdrawing`` and the withdrawal (``step: reserved``,
   ``instance``: this replica's session lease) are written together;
2. under the adapter's nonce lock the mint is signed, and its hash, nonce and raw bytes are written
   (``step: signed``) *before* it is sent;
3. the receipt: ``on_chain`` (item and withdrawal, one transaction) or ``withdraw_failed`` with the
   reason, the item back ``in_game``.

Whatever stops a replica between those steps, the reconciler (:meth:`Custody.resolve`) of any
replica resolves the withdrawal once the replica's lease is gone: ``reserved`` had sent nothing
(failed, ``interrupted``); ``signed`` is looked up by its hash: a receipt decides it, a hash the
chain does not know is sent again from its raw bytes, and a nonce the custody key has already
used for another transaction means it can never be mined (failed, ``not-mined``). So an item is
never both in the game and on chain, and never neither.

Deposits: :meth:`Custody.follow_deposits` reads ``TransferSingle``/``TransferBatch`` logs to the
custody address from a cursor (``meta`` ``chain_cursor``, the last block done). Each unit is a
``deposits`` document whose id is (transaction hash, log index, position), written in the same
transaction as the item it returns, so replicas reading the same blocks return each item once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError, PyMongoError
from web3 import AsyncWeb3
from web3.types import TxReceipt

from commerce.chain import tokens
from commerce.chain.adapter import Chain, ChainUnavailable, Signed
from commerce.chain.custody_rules import REFUSED, failed_reason
from commerce.chain.errors import ChainRevert
from commerce.audit import Problem as AuditProblem
from commerce.audit import TokenHolding, check_chain
from commerce.errors import Problem
from commerce.store import Conflict, Doc, Session, Store, now

log = logging.getLogger("commerce.chain.custody")

CURSOR_ID = "chain_cursor"
MAX_BLOCKS_PER_READ = 2000
WITHDRAWAL_ID = r"wd_[0-9a-f]{32}"
ZERO = "0x0000000000000000000000000000000000000000"


def withdrawal_id(account: str, key: str) -> str:
    return "wd_" + hashlib.sha256(f"withdraw\x00{account}\x00{key}".encode()).hexdigest()[:32]


def withdrawal_body(doc: Doc) -> dict[str, Any]:
    body: dict[str, Any] = {"id": doc["_id"], "item": doc["item"], "item_id": doc["item_type"],
                            "state": doc["state"], "to": doc["to"], "token_id": doc["token_id"],
                            "tx_hash": doc.get("tx_hash"), "created_at": doc["created_at"].isoformat()}
    if "block" in doc:
        body["block"] = doc["block"]
    if "reason" in doc:
        body["reason"] = doc["reason"]
    return body


def _hex(value: object) -> str:
    return value.lower() if isinstance(value, str) else AsyncWeb3.to_hex(value)  # type: ignore[arg-type]


def _kill_self(step: str) -> None:
    """Test-only fault injection (``ELYSIUM_CHAIN_FAULT``): die here as a SIGKILL would."""
    log.warning("fault injected: killing the process", extra={"step": step})
    logging.shutdown()
    os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Custody:
    store: Store
    chain: Chain
    instance: str  # this replica's session lease id: withdrawals in flight name it
    confirmations: int = 0
    from_block: int = 0
    fault: str = ""

    def __post_init__(self) -> None:
        self.withdrawals = self.store.db["withdrawals"]
        self.deposits = self.store.db["deposits"]
        self._active: set[str] = set()  # withdrawals this process is working on right now
        self.resolved = 0
        self.deposited = 0

    async def ensure_indexes(self) -> None:
        await self.withdrawals.create_index([("state", ASCENDING), ("instance", ASCENDING)])
        await self.withdrawals.create_index([("account", ASCENDING), ("created_at", ASCENDING)])
        await self.store.items.create_index("withdrawal", sparse=True)

    # --- withdraw ----------------------------------------------------------------------------

    async def withdraw(self, account: str, item_id: str, key: str) -> tuple[dict[str, Any], bool]:
        """Withdraw one owned item to the account's linked address; (withdrawal, replayed).

        Refusals change nothing: a foreign or unknown item (404), an unlinked wallet, an item
        listed, in escrow, leaving or on chain, or of a type that cannot be traded (409).
        """
        wid = withdrawal_id(account, key)
        reserved = await self.store.transaction(lambda s: self._reserve(s, wid, account, item_id))
        if reserved is None:  # a retry of the same request: its state as it is now
            doc = await self.withdrawals.find_one({"_id": wid})
            assert doc is not None
            if doc["item"] != item_id:
                raise Problem("idempotency-key-reused", "this Idempotency-Key withdrew another item")
            return withdrawal_body(doc), True
        self._active.add(wid)
        if self.fault == "before_sign":
            _kill_self("before_sign")
        try:
            doc = await self._carry_out(reserved)
        finally:
            self._active.discard(wid)
        return withdrawal_body(doc), False

    async def _reserve(self, s: Session, wid: str, account: str, item_id: str) -> Doc | None:
        existing = await self.withdrawals.find_one({"_id": wid}, {"_id": 1}, session=s)
        if existing is not None:
            return None
        item = await self.store.items.find_one({"_id": item_id, "owner": account}, session=s)
        if item is None:
            raise Problem("unknown-owned-item", "there is no such item of yours")
        custody = str(item.get("custody"))
        if custody != "in_game":
            raise Problem(REFUSED.get(custody, "item-unavailable"), f"the item is {custody}", custody=custody)
        kind = await self.store.catalog.find_one({"_id": item["type"]}, {"tradeable": 1, "stackable": 1}, session=s)
        if kind is None or not kind.get("tradeable", False):
            raise Problem("item-not-tradeable", "items of this type cannot leave the game")
        acct = await self.store.accounts.find_one({"_id": account}, {"eth_address": 1}, session=s)
        address = acct.get("eth_address") if acct else None
        if not isinstance(address, str) or not AsyncWeb3.is_checksum_address(address):
            raise Problem("wallet-not-linked", "link an Ethereum wallet first (POST /v1/me/wallet/challenge, then "
                                               "/v1/me/wallet/link)")
        token = tokens.token_of(item_id, str(item["type"]), bool(kind.get("stackable")))
        at = now()
        done = await self.store.items.update_one({"_id": item_id, "owner": account, "custody": "in_game"},
                                                 {"$set": {"custody": "withdrawing", "withdrawal": wid}}, session=s)
        if done.modified_count != 1:
            raise Conflict()
        doc: Doc = {"_id": wid, "account": account, "item": item_id, "item_type": item["type"],
                    "token_id": str(token), "to": address, "state": "withdrawing", "step": "reserved",
                    "instance": self.instance, "created_at": at, "updated_at": at}
        await self.withdrawals.insert_one(doc, session=s)
        return doc

    def _mint_call(self, doc: Doc, custody_holds: bool) -> Any:
        token = int(doc["token_id"])
        if custody_holds:  # a unique item deposited earlier: the custody key still holds its one token
            return self.chain.items.functions.safeTransferFrom(self.chain.custody, doc["to"], token, 1, b"")
        return self.chain.items.functions.mint(doc["to"], token, 1, b"")

    async def _link_to_work(self, doc: Doc) -> None:
        """A unique item of a type linked to a work is linked to that work too, before it is
        minted, so that its royalties follow the work's licence (``ElysiumItems.royaltyInfo``
        asks the registry by token id, and linking the type linked only the type's token).
        Linked first, a crash before the mint leaves a link that names no token yet, harmless:
        the next withdrawal of the item finds it linked and goes on."""
        token = int(doc["token_id"])
        if not tokens.is_unique(token) or self.chain.rights.address is None:
            return
        functions = self.chain.rights.functions
        work = int(await self.chain.call(functions.workOfToken(tokens.type_token(str(doc["item_type"]))).call()))
        if work == 0 or int(await self.chain.call(functions.workOfToken(token).call())) != 0:
            return
        await self.chain.transact(functions.linkItems(work, [token]))
        log.info("unique item linked to its type's work", extra={"withdrawal": doc["_id"], "work": work})

    async def _carry_out(self, doc: Doc) -> Doc:
        """Steps 2 and 3 for a withdrawal this process reserved."""
        wid = doc["_id"]
        try:
            await self._link_to_work(doc)
            token = int(doc["token_id"])
            holds = tokens.is_unique(token) and await self.chain.call(
                self.chain.items.functions.balanceOf(self.chain.custody, token).call()) > 0

            async def record(signed: Signed) -> None:
                await self.withdrawals.update_one(
                    {"_id": wid, "state": "withdrawing"},
                    {"$set": {"step": "signed", "tx_hash": signed.tx_hash, "nonce": signed.nonce,
                              "raw": signed.raw.hex(), "updated_at": now()}})
                if self.fault == "before_send":
                    _kill_self("before_send")

            signed = await self.chain.send(self._mint_call(doc, holds), before_send=record)
        except ChainRevert as exc:
            return await self._fail(wid, failed_reason("reverted", f"{exc.error}: {exc.message}"))
        except ChainUnavailable as exc:
            current = await self.withdrawals.find_one({"_id": wid})
            if current is not None and current.get("step") == "signed":
                # Signed, and perhaps delivered: only the chain can say. The reconciler asks it.
                log.warning("withdrawal sent to a chain that stopped answering", extra={"withdrawal": wid})
                return current
            return await self._fail(wid, failed_reason("chain-unavailable", str(exc)))
        if self.fault == "after_send":
            _kill_self("after_send")
        try:
            receipt = await self.chain.wait(signed.tx_hash)
        except ChainUnavailable:
            current = await self.withdrawals.find_one({"_id": wid})
            assert current is not None
            return current  # no receipt yet: answered 202, the reconciler finishes it
        if self.fault == "after_receipt":
            _kill_self("after_receipt")
        return await self._settle(wid, signed.tx_hash, receipt)

    async def _settle(self, wid: str, tx_hash: str, receipt: TxReceipt) -> Doc:
        """A withdrawal's receipt is in: on chain, or failed with the decoded reason."""
        if receipt["status"] == 1:
            if self.confirmations and await self.chain.block_number() - int(receipt["blockNumber"]) < self.confirmations:
                current = await self.withdrawals.find_one({"_id": wid})
                assert current is not None
                return current
            return await self.store.transaction(lambda s: self._on_chain(s, wid, tx_hash, int(receipt["blockNumber"])))
        why = await self.chain.revert_reason(tx_hash)
        return await self._fail(wid, failed_reason("reverted", f"{why.error}: {why.message}"))

    async def _on_chain(self, s: Session, wid: str, tx_hash: str, block: int) -> Doc:
        doc = await self.withdrawals.find_one({"_id": wid}, session=s)
        assert doc is not None
        if doc["state"] != "withdrawing":
            return doc
        at = now()
        moved = await self.store.items.update_one(
            {"_id": doc["item"], "custody": "withdrawing", "withdrawal": wid},
            {"$set": {"custody": "on_chain", "chain": {"token_id": doc["token_id"], "holder": doc["to"]}},
             "$unset": {"withdrawal": ""},
             "$push": {"provenance": {"kind": "withdrawal", "withdrawal": wid, "tx": tx_hash, "to": doc["to"],
                                      "at": at}}}, session=s)
        if moved.modified_count != 1:
            raise Conflict()
        update = {"state": "on_chain", "step": "done", "tx_hash": tx_hash, "block": block, "updated_at": at}
        await self.withdrawals.update_one({"_id": wid}, {"$set": update, "$unset": {"raw": ""}}, session=s)
        log.info("item withdrawn", extra={"withdrawal": wid, "item": doc["item"], "tx": tx_hash})
        return {**doc, **update}

    async def _fail(self, wid: str, reason: dict[str, str]) -> Doc:
        async def body(s: Session) -> Doc:
            doc = await self.withdrawals.find_one({"_id": wid}, session=s)
            assert doc is not None
            if doc["state"] != "withdrawing":
                return doc
            back = await self.store.items.update_one({"_id": doc["item"], "custody": "withdrawing", "withdrawal": wid},
                                                     {"$set": {"custody": "in_game"}, "$unset": {"withdrawal": ""}},
                                                     session=s)
            if back.modified_count != 1:
                raise Conflict()
            update = {"state": "withdraw_failed", "step": "done", "reason": reason, "updated_at": now()}
            await self.withdrawals.update_one({"_id": wid}, {"$set": update, "$unset": {"raw": ""}}, session=s)
            log.info("withdrawal failed; item back in game", extra={"withdrawal": wid, "reason": reason["code"]})
            return {**doc, **update}

        return await self.store.transaction(body)

    async def get(self, account: str, wid: str) -> dict[str, Any]:
        doc = await self.withdrawals.find_one({"_id": wid, "account": account})
        if doc is None:
            raise Problem("unknown-withdrawal", "there is no such withdrawal of yours")
        return withdrawal_body(doc)

    # --- the reconciler ----------------------------------------------------------------------

    async def resolve(self) -> int:
        """Resolve the withdrawals left in flight by replicas that are gone (or by this one's past self)."""
        live = {d["_id"] async for d in self.store.db["commerce_instances"].find({}, {"_id": 1})}
        resolved = 0
        async for doc in self.withdrawals.find({"state": "withdrawing"}):
            wid = doc["_id"]
            if wid in self._active or (doc.get("instance") in live and doc.get("instance") != self.instance):
                continue
            claimed = await self.withdrawals.find_one_and_update(
                {"_id": wid, "state": "withdrawing", "instance": doc.get("instance")},
                {"$set": {"instance": self.instance, "updated_at": now()}})
            if claimed is None:
                continue  # another replica took it
            self._active.add(wid)
            try:
                after = await self._resume(claimed)
            finally:
                self._active.discard(wid)
            if after["state"] != "withdrawing":
                resolved += 1
        self.resolved += resolved
        return resolved

    async def _resume(self, doc: Doc) -> Doc:
        wid = doc["_id"]
        if doc.get("step") == "reserved":  # nothing was signed, so nothing was sent
            return await self._fail(wid, failed_reason("interrupted", "the withdrawal stopped before anything was "
                                                                      "sent to the chain"))
        tx_hash = str(doc["tx_hash"])
        receipt = await self.chain.receipt(tx_hash)
        if receipt is None:
            if await self.chain.nonce() > int(doc["nonce"]):
                # The custody key's nonce was mined in another transaction: this one never will be.
                return await self._fail(wid, failed_reason("not-mined", "the transaction was never mined"))
            if not await self.chain.resend(bytes.fromhex(doc["raw"])):
                return doc  # refused for now; the next round asks again
            try:
                receipt = await self.chain.wait(tx_hash)
            except ChainUnavailable:
                return doc
        return await self._settle(wid, tx_hash, receipt)

    async def follow_deposits(self) -> int:
        """Return the items of new deposits to the custody address; the number of units taken in."""
        cursor = await self.store.meta.find_one({"_id": CURSOR_ID})
        start = int(cursor["block"]) + 1 if cursor else self.from_block
        head = await self.chain.block_number() - self.confirmations
        taken = 0
        while start <= head:
            end = min(head, start + MAX_BLOCKS_PER_READ - 1)
            for unit in await self._transfers_in(start, end):
                if await self._deposit(*unit):
                    taken += 1
            await self.store.meta.update_one({"_id": CURSOR_ID, "block": {"$lt": end}} if cursor else {"_id": CURSOR_ID},
                                             {"$set": {"block": end, "updated_at": now()}}, upsert=cursor is None)
            cursor = {"block": end}
            start = end + 1
        self.deposited += taken
        return taken

    async def _transfers_in(self, start: int, end: int) -> list[tuple[str, str, int, int]]:
        """(deposit id, sender, token id, amount) for each unit range sent to the custody address."""
        items = self.chain.items
        single, batch = items.events.TransferSingle(), items.events.TransferBatch()
        single_topic, batch_topic = _hex(single.topic), _hex(batch.topic)
        topics = [[single_topic, batch_topic], None, None,
                  "0x" + "00" * 12 + self.chain.custody.lower().removeprefix("0x")]
        logs = await self.chain.call(self.chain.w3.eth.get_logs(
            {"address": items.address, "fromBlock": start, "toBlock": end, "topics": topics}))
        out: list[tuple[str, str, int, int]] = []
        for entry in logs:
            where = f"{_hex(entry['transactionHash'])}:{entry['logIndex']}"
            if _hex(entry["topics"][0]) == single_topic:
                args = single.process_log(entry)["args"]
                pairs = [(int(args["id"]), int(args["value"]))]
            else:
                args = batch.process_log(entry)["args"]
                pairs = [(int(i), int(v)) for i, v in zip(args["ids"], args["values"], strict=True)]
            sender = str(args["from"])
            if sender in (ZERO, self.chain.custody):
                continue
            out.extend((f"{where}:{n}", sender, token, amount) for n, (token, amount) in enumerate(pairs))
        return out

    async def _deposit(self, did: str, sender: str, token: int, amount: int) -> bool:
        """One deposit unit range: the items it returns, each once (the deposit id is the guard)."""

        async def body(s: Session) -> bool:
            if await self.deposits.find_one({"_id": did}, {"_id": 1}, session=s) is not None:
                return False
            acct = await self.store.accounts.find_one({"eth_address": sender}, {"_id": 1}, session=s)
            query: Doc = {"custody": "on_chain", "chain.token_id": str(token)}
            found = [i async for i in self.store.items.find(query, session=s).sort(
                [("chain.holder", ASCENDING), ("_id", ASCENDING)]).limit(amount)]
            found.sort(key=lambda i: (i.get("chain", {}).get("holder") != sender, i["_id"]))
            at = now()
            returned: list[str] = []
            for item in found:
                changes: Doc = {"custody": "held"}  # unless an account takes it: the custody key holds it
                if acct is not None:
                    mark = f"{acct['_id']}|{item['type']}"
                    if "unique_owner" not in item or item["owner"] == acct["_id"]:
                        changes = {"custody": "in_game", "owner": acct["_id"]}
                    elif not await self.store.items.find_one({"unique_owner": mark}, {"_id": 1}, session=s):
                        changes = {"custody": "in_game", "owner": acct["_id"], "unique_owner": mark}
                    # else: one of this unique type is theirs already; it stays held
                update: Doc = {"$set": changes, "$push": {"provenance": {"kind": "deposit", "deposit": did,
                                                                         "from": sender, "at": at}}}
                if changes["custody"] == "in_game":
                    update["$unset"] = {"chain": ""}
                moved = await self.store.items.update_one({"_id": item["_id"], "custody": "on_chain"}, update,
                                                          session=s)
                if moved.modified_count != 1:
                    raise Conflict()
                returned.append(item["_id"])
            await self.deposits.insert_one({"_id": did, "from": sender, "token_id": str(token), "amount": amount,
                                            "account": acct["_id"] if acct else None, "items": returned,
                                            "unmatched": amount - len(returned), "at": at}, session=s)
            log.info("deposit taken in", extra={"deposit": did, "items": len(returned),
                                                "account": acct["_id"] if acct else None})
            return True

        try:
            return await self.store.transaction(body)
        except DuplicateKeyError:
            return False

    async def claim_held(self, address: str | None = None) -> list[str]:
        """Give the items deposited from an address no account linked then (custody ``held``) to
        the account that links it now: ``in_game``, by the deposit rules (one of a unique type per
        account). ``address`` limits it to one address (just linked); without it every address
        with held deposits is looked at (the reconciler's round, which finishes what a crash
        between a link and its claim left). Each deposit is claimed once: its ``account`` is set
        in the transaction that moves its items. Returns the ids of the items given back."""
        query: Doc = {"account": None, "items.0": {"$exists": True}}
        if address is not None:
            query["from"] = address
        returned: list[str] = []
        async for dep in self.deposits.find(query, {"_id": 1, "from": 1}):
            acct = await self.store.accounts.find_one({"eth_address": dep["from"]}, {"_id": 1})
            if acct is None:
                continue
            did, account = str(dep["_id"]), str(acct["_id"])

            async def claim(s: Session, did: str = did, account: str = account) -> list[str]:
                return await self._claim(s, did, account)

            returned += await self.store.transaction(claim)
        return returned

    async def _claim(self, s: Session, did: str, account: str) -> list[str]:
        dep = await self.deposits.find_one_and_update({"_id": did, "account": None},
                                                      {"$set": {"account": account, "claimed_at": now()}},
                                                      session=s)
        if dep is None:
            return []  # claimed meanwhile
        at = now()
        out: list[str] = []
        for item in [i async for i in self.store.items.find({"_id": {"$in": dep["items"]}, "custody": "held"},
                                                            session=s)]:
            mark = f"{account}|{item['type']}"
            changes: Doc = {"custody": "in_game", "owner": account}
            if "unique_owner" in item and item["owner"] != account:
                if await self.store.items.find_one({"unique_owner": mark}, {"_id": 1}, session=s):
                    continue  # one of this unique type is theirs already; it stays held
                changes["unique_owner"] = mark
            moved = await self.store.items.update_one(
                {"_id": item["_id"], "custody": "held"},
                {"$set": changes, "$unset": {"chain": ""},
                 "$push": {"provenance": {"kind": "claim", "deposit": did, "account": account, "at": at}}},
                session=s)
            if moved.modified_count != 1:
                raise Conflict()
            out.append(item["_id"])
        log.info("held deposit claimed", extra={"deposit": did, "account": account, "items": len(out)})
        return out

    async def run(self, stop: asyncio.Event, interval_s: float) -> None:
        """Resolve interrupted withdrawals, take deposits in and give held ones to accounts that
        linked their sender since, every ``interval_s``, until ``stop``."""
        while not stop.is_set():
            try:
                await self.resolve()
                await self.follow_deposits()
                await self.claim_held()
            except (ChainUnavailable, PyMongoError, Problem) as exc:
                log.warning("chain reconciler round failed; retrying", extra={"error": str(exc)})
            except Exception:  # our bug: logged, and the next round tries again rather than the loop dying
                log.exception("chain reconciler round failed")
            try:
                await asyncio.wait_for(stop.wait(), interval_s)
            except TimeoutError:
                pass

    async def holdings(self, token_ids: Iterable[str]) -> dict[str, TokenHolding]:
        """The chain's figures for each token id, with the deposits past the reconciler's cursor."""
        cursor = await self.store.meta.find_one({"_id": CURSOR_ID})
        start = int(cursor["block"]) + 1 if cursor else self.from_block
        head = await self.chain.block_number()
        unread: dict[str, int] = {}
        while start <= head:
            end = min(head, start + MAX_BLOCKS_PER_READ - 1)
            for _, _, unit, amount in await self._transfers_in(start, end):
                unread[str(unit)] = unread.get(str(unit), 0) + amount
            start = end + 1
        fn = self.chain.items.functions
        out: dict[str, TokenHolding] = {}
        for token in sorted(set(token_ids)):
            supply = await self.chain.call(fn.totalSupply(int(token)).call())
            held = await self.chain.call(fn.balanceOf(self.chain.custody, int(token)).call())
            out[token] = TokenHolding(int(supply), int(held), unread.get(token, 0))
        return out

    async def audit(self) -> tuple[list[AuditProblem], dict[str, int]]:
        """The chain half of ``elysium audit``: items on chain against the chain's balances (read only)."""
        rows = [i async for i in self.store.items.find(
            {"custody": {"$in": ["on_chain", "withdrawing", "held"]}}, {"custody": 1, "chain.token_id": 1})]
        in_flight = {w["item"]: str(w["token_id"]) async for w in self.withdrawals.find({"state": "withdrawing"})}
        token_ids = {str(t) for t in await self.withdrawals.distinct("token_id")}
        token_ids |= {str(i["chain"]["token_id"]) for i in rows if "chain" in i}
        problems = check_chain(rows, in_flight, await self.holdings(token_ids))
        counts = {"on_chain": sum(1 for i in rows if i["custody"] == "on_chain"), "tokens": len(token_ids),
                  "withdrawing": len(in_flight), "held": sum(1 for i in rows if i["custody"] == "held")}
        return problems, counts
