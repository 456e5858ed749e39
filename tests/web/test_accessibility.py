"""Every page, signed in (and the console with its token): axe-core finds no serious or critical violation,
and a 360 px wide screen needs no sideways scrolling."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import NewPage
from tests.web.flows import Account, call, poll, register, signed_in
from tests.web.stack import WEB, Stack

AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
Shot = Callable[[Page, str], None]

# Each route of web/src/App.tsx; {player}, {match}, {replay} and {listing} are filled from the stack.
ROUTES = ("/", "/login", "/register", "/profile", "/settings", "/players/{player}", "/arena", "/arena/play",
          "/watch", "/watch/{match}", "/replays/{replay}", "/market", "/market/listings/{listing}", "/inventory",
          "/trades", "/trades/new", "/wallet", "/butler", "/butler/settings", "/ops", "/ops/servers",
          "/ops/queues", "/ops/relays", "/ops/accounts", "/ops/audit", "/no-such-page")


@dataclass(frozen=True)
class Site:
    account: Account
    operator_token: str
    ids: dict[str, str]


@pytest.fixture(scope="session")
def site(stack: Stack) -> Site:
    """An account with a listing on the market, the bots' live match, and a finished one if any."""
    seller = register(stack, "a11y")
    status, body = call(stack, "POST", "/api/commerce/v1/purchases", {"item_id": "health-potion", "currency": "soft",
                        "quantity": 2}, token=seller.access_token, idempotency_key=f"a11y-{seller.account_id}")
    assert status == 201, body
    status, body = call(stack, "POST", "/api/commerce/v1/listings",
                        {"item_type": "health-potion", "quantity": 1, "price": 30, "currency": "soft"},
                        token=seller.access_token, idempotency_key=f"a11y-list-{seller.account_id}")
    assert status == 201, body
    listing = body.get("id") or body.get("listing_id") or body["listing"]["id"]

    def matches() -> dict[str, Any] | None:
        status, body = call(stack, "GET", "/api/spectator/v1/matches")
        return body if status == 200 and body.get("live") else None

    found = poll("the bots' live match on the relay", matches, timeout_s=150)
    live = found["live"][0]["match_id"]
    replay = found["replays"][0]["match_id"] if found.get("replays") else live
    return Site(seller, stack.admin_token(), {"player": seller.account_id, "match": live, "replay": replay,
                                              "listing": str(listing)})


def open_page(new_page: NewPage, site: Site, route: str, width: int = 1280) -> Page:
    page = signed_in(new_page(width=width), site.account)
    page.context.add_init_script(
        "(() => { const k = 'elysium.session'; const s = JSON.parse(localStorage.getItem(k) || '{}');"
        f" s.serviceToken = {json.dumps(site.operator_token)}; localStorage.setItem(k, JSON.stringify(s)); }})();")
    page.goto(route.format(**site.ids))
    expect(page.locator("main#main h1")).to_have_count(1)
    expect(page.locator("main#main[aria-busy=true]")).to_have_count(0)
    settle(page)
    return page


def settle(page: Page, quiet_s: float = 0.5, timeout_s: float = 8.0) -> None:
    """Waits until the page's DOM has not changed for ``quiet_s`` (data loaded and drawn), at most ``timeout_s``."""
    page.evaluate("""() => { window.__lastChange = performance.now();
        new MutationObserver(() => { window.__lastChange = performance.now(); })
          .observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true}); }""")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if page.evaluate("() => performance.now() - window.__lastChange") >= quiet_s * 1000:
            return
        time.sleep(0.1)


@pytest.mark.parametrize("route", ROUTES)
def test_axe_finds_no_serious_or_critical_violation(route: str, site: Site, new_page: NewPage, shot: Shot) -> None:
    page = open_page(new_page, site, route)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
           for v in result["violations"] if v["impact"] in ("serious", "critical")]
    shot(page, "axe")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("route", ROUTES)
def test_a_360_px_screen_needs_no_sideways_scrolling(route: str, site: Site, new_page: NewPage, shot: Shot) -> None:
    page = open_page(new_page, site, route, width=360)
    widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth,"
                           " document.body.scrollWidth]")
    shot(page, "360")
    wider = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.right > document.documentElement.clientWidth + 1; })
        .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : ''))""")
    assert max(widths[0], widths[2]) <= widths[1], f"{route} is {widths[0]} px wide at 360 px; too wide: {wider}"
