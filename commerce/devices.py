"""Guest and device accounts: log in with a device id, link more devices later.

A device id is a credential (whoever sends it logs in), so only its SHA-256 is stored: the
``devices`` collection has one document per linked device, ``{_id: sha256, account,
created_at}``. The first login with a new device id creates a guest account (no username, no
password, a generated display name) and its device document in one transaction. Two first logins
with the same id at once both try to insert the same ``_id``: one commits, the other conflicts,
is retried, finds the winner's device and logs into that account. So one id makes one account.

Linking another device adds a device document to the account in a transaction that also bumps a
counter on the account document, so two links of one account at once conflict and are judged one
after the other against ``MAX_DEVICES``.
"""

from __future__ import annotations

import hashlib

from commerce.accounts import Accounts, TokenPair, guest_name, new_account
from commerce.errors import Problem
from commerce.store import Doc, Session, Store, now

DEVICE_ID = r"[A-Za-z0-9_-]{16,128}"  # a UUID, or 16+ random bytes in base64url, fit
MAX_DEVICES = 10


def device_key(device_id: str) -> str:
    return hashlib.sha256(b"elysium device\x00" + device_id.encode()).hexdigest()


class Devices:
    def __init__(self, store: Store, accounts: Accounts, max_devices: int = MAX_DEVICES) -> None:
        self.store = store
        self.accounts = accounts
        self.max_devices = max_devices

    async def login(self, device_id: str) -> tuple[Doc, TokenPair, bool]:
        """The device's account (a new guest on first use), fresh tokens, and whether it was created."""
        key = device_key(device_id)
        found = await self.store.devices.find_one({"_id": key}, {"account": 1})
        created = False
        if found is None:
            guest = new_account(guest_name())

            async def body(s: Session) -> str:
                again = await self.store.devices.find_one({"_id": key}, {"account": 1}, session=s)
                if again is not None:  # a first login of the same id got there first
                    return str(again["account"])
                await self.accounts.create_in(s, {**guest, "devices_linked": 1})
                await self.store.devices.insert_one({"_id": key, "account": guest["_id"], "created_at": now()},
                                                    session=s)
                return str(guest["_id"])

            account_id = await self.store.transaction(body)
            created = account_id == guest["_id"]
        else:
            account_id = str(found["account"])
        doc = await self.accounts.profile(account_id)
        return doc, await self.accounts.issue(doc), created

    async def link(self, account_id: str, device_id: str) -> bool:
        """Link ``device_id`` to the account; False when it already was (nothing changes)."""
        key = device_key(device_id)

        async def body(s: Session) -> bool:
            existing = await self.store.devices.find_one({"_id": key}, {"account": 1}, session=s)
            if existing is not None:
                if existing["account"] == account_id:
                    return False
                raise Problem("device-taken", "that device id is linked to another account")
            # The write every link of this account makes: concurrent links conflict here and are retried.
            bumped = await self.store.accounts.update_one(
                {"_id": account_id, "system": {"$ne": True}}, {"$inc": {"devices_linked": 1}}, session=s)
            if bumped.matched_count != 1:
                raise Problem("unknown-account", "this account no longer exists")
            if await self.store.devices.count_documents({"account": account_id}, session=s) >= self.max_devices:
                raise Problem("device-limit", f"an account may link at most {self.max_devices} devices")
            await self.store.devices.insert_one({"_id": key, "account": account_id, "created_at": now()}, session=s)
            return True

        return await self.store.transaction(body)
