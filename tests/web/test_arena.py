"""Playing in the browser: a new player lands signed in; quick play reaches the game page, where held keys move
the player on the canvas at 30 frames per second or more; a custom game hosted in one browser is joined by
its code from another and both reach the game page."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.web.conftest import NewPage
from tests.web.flows import PASSWORD, Account, register, signed_in, unique
from tests.web.stack import Stack

Shot = Callable[[Page, str], None]


def test_register_lands_signed_in_on_the_home_page(new_page: NewPage, shot: Shot) -> None:
    page = new_page()
    username = unique("reg")
    page.goto("/register")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Display name (optional)").fill(f"Player {username}")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_test_id("user-menu")).to_contain_text(f"Player {username}")
    page.goto("/")
    expect(page.locator("main#main h1")).to_have_count(1)
    expect(page.get_by_test_id("user-menu")).to_contain_text(f"Player {username}")  # still signed in after a load
    expect(page.get_by_role("link", name="Sign in")).to_have_count(0)
    shot(page, "home-signed-in")


def mode_select(form: Locator) -> Locator:
    """The mode's select inside ``form`` (its label wraps it)."""
    return form.locator("label", has_text=re.compile(r"^\s*Mode")).locator("select")


def lobby(new_page: NewPage, account: Account) -> Page:
    page = signed_in(new_page(), account)
    page.goto("/arena")
    expect(page.get_by_role("heading", level=1, name="Arena")).to_be_visible()
    return page


def canvas_number(page: Page, attribute: str) -> float | None:
    value = page.get_by_test_id("game-canvas").get_attribute(attribute)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        return None


def on_the_game_page(page: Page) -> None:
    expect(page).to_have_url(re.compile(r"/arena/play$"), timeout=60_000)
    expect(page.get_by_test_id("game-canvas")).to_be_visible(timeout=30_000)
    page.wait_for_function(
        "() => { const c = document.querySelector('[data-testid=game-canvas]');"
        " return c && c.getAttribute('data-self-x') !== null && c.getAttribute('data-self-x') !== ''; }",
        timeout=30_000)


def test_quick_play_reaches_the_game_where_held_keys_move_the_player_at_30_fps(
        stack: Stack, new_page: NewPage, shot: Shot) -> None:
    players = [register(stack, "qp") for _ in range(2)]
    pages = [lobby(new_page, p) for p in players]
    for page in pages:  # a duel fills with two: the match is made at once
        quick = page.get_by_role("region", name="Quick play")
        expect(mode_select(quick).locator("option[value=duel]")).to_have_count(1, timeout=20_000)
        mode_select(quick).select_option("duel")
        quick.get_by_role("button", name="Play").click()
        expect(quick.get_by_test_id("ticket-status").or_(page.get_by_test_id("game-canvas"))).to_be_visible()
    for page in pages:
        on_the_game_page(page)
    page = pages[0]
    shot(page, "game-before")
    start_x = canvas_number(page, "data-self-x")
    page.wait_for_timeout(500)
    assert canvas_number(page, "data-self-x") == start_x, "the player moved with no key held"
    page.get_by_test_id("game-canvas").focus()
    moved = False
    for key in ("ArrowRight", "ArrowLeft"):  # a wall may stand on one side of the spawn
        page.keyboard.down(key)
        try:
            page.wait_for_function(
                "start => Math.abs(Number(document.querySelector('[data-testid=game-canvas]')"
                ".getAttribute('data-self-x')) - start) > 50", arg=start_x, timeout=3_000)  # half a metre
            moved = True
        except PlaywrightTimeout:
            pass
        finally:
            page.keyboard.up(key)
        if moved:
            break
    assert moved, f"data-self-x stayed at {start_x} while keys were held"
    shot(page, "game-moved")
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=game-canvas]').getAttribute('data-fps')) >= 30",
        timeout=15_000)
    fps = canvas_number(page, "data-fps")
    assert fps is not None and fps >= 30, fps


def test_a_custom_game_hosted_in_one_browser_is_joined_by_code_from_another(
        stack: Stack, new_page: NewPage, shot: Shot) -> None:
    host_account, guest_account = register(stack, "host"), register(stack, "guest")
    host, guest = lobby(new_page, host_account), lobby(new_page, guest_account)
    hosting = host.get_by_role("form", name="Host a game")
    expect(mode_select(hosting).locator("option[value=duel]")).to_have_count(1, timeout=20_000)
    mode_select(hosting).select_option("duel")
    hosting.get_by_label("Players").fill("2")
    hosting.get_by_label("List it in the lobby (otherwise only the code finds it)").uncheck()
    hosting.get_by_role("button", name="Host game").click()
    code = host.get_by_test_id("game-code")
    expect(code).to_have_text(re.compile(r"^[A-Z0-9]{6}$"))
    game_code = code.inner_text().strip()
    shot(host, "hosted")

    joining = guest.get_by_role("form", name="Join by code")
    joining.get_by_label("Game code").fill(game_code)
    joining.get_by_role("button", name="Join game").click()
    expect(guest.get_by_test_id("game-code")).to_have_text(game_code)
    expect(host.get_by_test_id("member-row")).to_have_count(2, timeout=20_000)
    shot(guest, "joined")

    host.get_by_role("button", name="Start game").click()
    for page in (host, guest):
        on_the_game_page(page)
    shot(guest, "playing")
