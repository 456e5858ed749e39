"""The operator console with the token ``elysium commerce admin-token`` prints: the stack's game server and its
rooms (the bots' match), an account found by search, banned and unbanned, as commerce records it."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.web.conftest import NewPage
from tests.web.flows import call, poll, register
from tests.web.stack import Stack

Shot = Callable[[Page, str], None]


def console(new_page: NewPage, stack: Stack) -> Page:
    page = new_page()
    page.goto("/ops")
    expect(page.get_by_role("heading", level=1, name="Operator console")).to_be_visible()
    page.get_by_label("Service token").fill(stack.admin_token())
    page.get_by_role("button", name="Sign in to the console").click()
    expect(page.get_by_role("button", name="Sign out of the console")).to_be_visible()
    return page


def section(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Operator console").get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)


def test_the_console_shows_the_game_server_and_its_rooms(stack: Stack, new_page: NewPage, shot: Shot) -> None:
    page = console(new_page, stack)
    section(page, "Game servers")
    row = page.get_by_test_id("server-row").filter(has_text="local-1")
    expect(row).to_have_count(1, timeout=20_000)
    row.get_by_role("button", name=re.compile("Show rooms")).click()
    rooms = page.get_by_test_id("room-card")
    expect(rooms.first).to_be_visible(timeout=20_000)  # the bots' match
    expect(rooms.filter(has=page.get_by_test_id("player-row")).first).to_be_visible()
    shot(page, "rooms")


def banned(stack: Stack, token: str, account_id: str) -> bool:
    status, body = call(stack, "GET", f"/api/commerce/v1/admin/accounts/{account_id}/moderation", token=token)
    assert status == 200, body
    return body.get("ban") is not None


def test_an_account_is_found_banned_and_unbanned(stack: Stack, new_page: NewPage, shot: Shot) -> None:
    player = register(stack, "mod")
    token = stack.admin_token()
    page = console(new_page, stack)
    section(page, "Accounts")
    page.get_by_role("search").get_by_label("Search accounts").fill(player.username)
    page.get_by_role("search").get_by_role("button", name="Search").click()
    found = page.get_by_test_id("account-row").filter(has_text=player.username)
    expect(found).to_have_count(1, timeout=20_000)
    found.get_by_role("button", name=re.compile("^Manage")).click()
    page.get_by_label("Reason for the ban").fill("browser test: abuse")
    page.get_by_role("button", name=f"Ban {player.display_name}").click()
    expect(page.get_by_role("status").filter(has_text=f"Banned {player.display_name}.")).to_be_visible()
    assert banned(stack, token, player.account_id)
    shot(page, "banned")
    status, body = call(stack, "GET", "/api/commerce/v1/me", token=player.access_token)
    assert status == 403 and str(body.get("type", "")).endswith("account-banned"), body  # the ban holds at commerce
    page.get_by_label("Reason for lifting it").fill("browser test: appeal upheld")
    page.get_by_role("button", name=f"Unban {player.display_name}").click()
    expect(page.get_by_role("status").filter(has_text=f"Lifted the ban of {player.display_name}.")).to_be_visible()
    assert not banned(stack, token, player.account_id)
    assert poll("the player's token accepted again",
                lambda: call(stack, "GET", "/api/commerce/v1/me", token=player.access_token)[0] == 200)
    shot(page, "unbanned")
