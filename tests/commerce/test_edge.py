"""Commerce behind the shared edge, against hostile input: numbers, JSON, tokens."""

from __future__ import annotations

from typing import Any

import pytest

from tests.commerce.conftest import register
from tests.commerce.test_accounts import _problem

LOOSE_LIMITS = ["²", "١٢", "１２", " 5", "+5", "1_0", "", "9" * 40]


@pytest.mark.parametrize("path", ["/v1/me/ledger", "/v1/me/items"])
@pytest.mark.parametrize("limit", LOOSE_LIMITS)
async def test_a_limit_that_is_not_ascii_digits_is_400(client: Any, path: str, limit: str) -> None:
    p = await register(client)
    body = await _problem(await client.get(path, params={"limit": limit}, headers=p["headers"]), 400,
                          "invalid-request")
    assert body["detail"] == "limit must be a whole number from 1 to 200" and body["errors"] == {"limit": "1..200"}


@pytest.mark.parametrize("path", ["/v1/me/ledger", "/v1/me/items"])
async def test_a_plain_limit_still_pages(client: Any, path: str) -> None:
    p = await register(client)
    resp = await client.get(path, params={"limit": "007"}, headers=p["headers"])
    assert resp.status == 200, await resp.text()
