"""What the browser tests do again and again: accounts made through the one origin, pages signed in as them,
and reads of the stack's own APIs to check what the pages claim."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from playwright.sync_api import Page

from tests.web.stack import Stack

PASSWORD = "correct horse battery staple"
STORAGE_KEY = "elysium.session"  # web/src/features/session/sessionSlice.ts
T = TypeVar("T")


@dataclass(frozen=True)
class Account:
    username: str
    display_name: str
    account_id: str
    access_token: str
    refresh_token: str
    expires_in: int


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def call(stack: Stack, method: str, path: str, body: object | None = None, *, token: str | None = None,
         idempotency_key: str | None = None, base_url: str = "") -> tuple[int, Any]:
    """One request to the stack's origin (``/api/...``), as the browser would send it; (status, JSON body)."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    req = urllib.request.Request((base_url or stack.web_url) + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw.decode(errors="replace")


def register(stack: Stack, prefix: str = "p") -> Account:
    username = unique(prefix)
    status, body = call(stack, "POST", "/api/commerce/v1/accounts",
                        {"username": username, "password": PASSWORD, "display_name": username})
    assert status == 201, body
    return Account(username, username, body["account_id"], body["access_token"], body["refresh_token"],
                   int(body["expires_in"]))


def signed_in(page: Page, account: Account) -> Page:
    """Makes ``page``'s context start signed in as ``account`` (the session the client keeps in storage)."""
    session = {"accountId": account.account_id, "accessToken": account.access_token,
               "refreshToken": account.refresh_token, "expiresAt": int(time.time() * 1000) + account.expires_in * 1000,
               "serviceToken": None, "profile": None}
    page.context.add_init_script(
        f"if (!window.localStorage.getItem({json.dumps(STORAGE_KEY)})) "
        f"window.localStorage.setItem({json.dumps(STORAGE_KEY)}, {json.dumps(json.dumps(session))});")
    return page


def wallet(stack: Stack, account: Account) -> dict[str, int]:
    status, body = call(stack, "GET", "/api/commerce/v1/me/wallet", token=account.access_token)
    assert status == 200, body
    return dict(body["balances"])


def items(stack: Stack, account: Account) -> list[dict[str, Any]]:
    status, body = call(stack, "GET", "/api/commerce/v1/me/items", token=account.access_token)
    assert status == 200, body
    return list(body["items"])


def poll(what: str, probe: Callable[[], T | None], timeout_s: float = 20.0, interval_s: float = 0.25) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout_s:g} s")
        time.sleep(interval_s)
