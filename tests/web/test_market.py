"""Money and items through the pages: an item bought in the store is listed on the market and bought from it
by a second account; a trade offered by one account is accepted by the other. Each claim a page makes is
checked against commerce itself."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.web.conftest import NewPage
from tests.web.flows import Account, call, items, poll, register, signed_in, wallet
from tests.web.stack import Stack

Shot = Callable[[Page, str], None]
ITEM, NAME = "speed-boots", "Speed Boots"  # commerce/catalog.json: not stackable, tradeable, 300 coins


def owned(stack: Stack, account: Account, item_type: str = ITEM) -> list[str]:
    return [i["id"] for i in items(stack, account) if i.get("item_id") == item_type and i.get("custody") == "in_game"]


def buy_by_api(stack: Stack, account: Account) -> str:
    status, body = call(stack, "POST", "/api/commerce/v1/purchases", {"item_id": ITEM, "currency": "soft"},
                        token=account.access_token, idempotency_key=f"setup-{account.account_id}")
    assert status == 201, body
    return str(body["items"][0]["id"] if isinstance(body["items"][0], dict) else body["items"][0])


def test_an_item_bought_in_the_store_is_listed_and_bought_by_another_account(
        stack: Stack, new_page: NewPage, shot: Shot) -> None:
    seller, buyer = register(stack, "sel"), register(stack, "buy")
    before = wallet(stack, seller)["soft"]
    page = signed_in(new_page(), seller)
    page.goto("/inventory")
    expect(page.get_by_role("heading", level=1, name="Inventory")).to_be_visible()
    store = page.get_by_role("form", name=f"Buy {NAME}")
    if store.get_by_label("Pay with").count():
        store.get_by_label("Pay with").select_option("soft")
    store.get_by_role("button", name=f"Buy {NAME}").click()
    expect(page.get_by_role("status").filter(has_text=f"Bought {NAME}")).to_be_visible()
    assert len(owned(stack, seller)) == 1
    assert wallet(stack, seller)["soft"] == before - 300
    shot(page, "bought")

    selling = page.get_by_role("form", name=f"Sell {NAME}")
    selling.get_by_label("Price").fill("50")
    selling.get_by_label("Currency").select_option("soft")
    selling.get_by_role("button", name="List for sale").click()

    def listed() -> str | None:
        status, body = call(stack, "GET", f"/api/commerce/v1/listings?seller={seller.account_id}")
        return body["listings"][0]["id"] if status == 200 and body.get("listings") else None

    listing_id = poll("the seller's listing", listed)
    shot(page, "listed")

    other = signed_in(new_page(), buyer)
    other.goto("/market")
    row = other.get_by_test_id("listing-row").filter(has=other.get_by_role("link", name=seller.display_name))
    expect(row).to_have_count(1, timeout=20_000)
    row.get_by_role("link", name=re.compile(NAME)).click()
    expect(other).to_have_url(re.compile(f"/market/listings/{listing_id}$"))
    other.get_by_role("button", name=re.compile(r"^Buy for")).click()
    other.get_by_role("group", name="Confirm the purchase").get_by_role("button", name="Confirm purchase").click()
    expect(other.get_by_test_id("listing-state")).not_to_have_text(re.compile("open", re.I), timeout=20_000)
    shot(other, "bought-listing")
    assert len(owned(stack, buyer)) == 1
    assert owned(stack, seller) == []
    assert wallet(stack, buyer)["soft"] == 500 - 50
    assert wallet(stack, seller)["soft"] > before - 300  # paid for the sale (less any market fee)


def test_a_trade_offered_by_one_account_is_accepted_in_the_other(
        stack: Stack, new_page: NewPage, shot: Shot) -> None:
    offerer, receiver = register(stack, "off"), register(stack, "rec")
    item_id = buy_by_api(stack, offerer)
    soft = wallet(stack, offerer)["soft"]
    page = signed_in(new_page(), offerer)
    page.goto("/trades/new")
    expect(page.get_by_role("heading", level=1, name="New trade")).to_be_visible()
    form = page.get_by_role("form", name="Offer a trade")
    form.get_by_label("Player id").fill(receiver.account_id)
    form.get_by_role("group", name="Your items").get_by_role("checkbox").first.check()
    form.get_by_label("Coins you ask for").fill("10")
    form.get_by_role("button", name="Offer trade").click()
    expect(page.get_by_role("status").first).to_be_visible()
    shot(page, "offered")

    other = signed_in(new_page(), receiver)
    other.goto("/trades")
    row = other.get_by_test_id("trade-row").filter(has_text=offerer.display_name)
    expect(row).to_have_count(1, timeout=20_000)
    row.get_by_role("button", name="Accept").click()
    row.get_by_role("button", name="Confirm accept").click()
    expect(other.get_by_role("status").filter(has_text=f"Trade with {offerer.display_name} accepted")).to_be_visible(
        timeout=20_000)
    shot(other, "accepted")
    assert owned(stack, receiver) == [item_id]
    assert owned(stack, offerer) == []
    assert wallet(stack, offerer)["soft"] == soft + 10
    assert wallet(stack, receiver)["soft"] == 500 - 10
