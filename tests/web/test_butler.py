"""The butler in the browser (its offline engine, as elysium up runs it): a request in plain words streams
back a proposal; confirming it buys from the store, and the wallet shows the change."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.web.conftest import NewPage
from tests.web.flows import items, poll, register, signed_in, wallet
from tests.web.stack import Stack

Shot = Callable[[Page, str], None]


def test_a_proposal_the_butler_makes_is_confirmed_and_the_wallet_changes(
        stack: Stack, new_page: NewPage, shot: Shot) -> None:
    player = register(stack, "but")
    soft = wallet(stack, player)["soft"]
    page = signed_in(new_page(), player)
    page.goto("/butler")
    expect(page.get_by_role("heading", level=1, name="Butler")).to_be_visible()
    page.get_by_label("Message").fill("buy 2 health potions")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_test_id("chat-user")).to_contain_text("buy 2 health potions")
    card = page.get_by_test_id("proposal-card")
    expect(card).to_be_visible(timeout=30_000)
    assert wallet(stack, player)["soft"] == soft  # a proposal alone moves nothing
    shot(page, "proposal")
    card.get_by_role("button", name="Confirm").click()
    expect(card.get_by_role("status")).to_contain_text("Done", timeout=20_000)
    shot(page, "confirmed")
    assert poll("the purchase reaching the wallet", lambda: wallet(stack, player)["soft"] == soft - 50)
    assert sum(1 for i in items(stack, player) if i.get("item_id") == "health-potion") == 2
    page.goto("/wallet")
    expect(page.get_by_test_id("wallet-balance")).to_contain_text(str(soft - 50))
