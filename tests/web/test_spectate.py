"""Watching in the browser: the bots' live match is listed on /watch and plays on its canvas; a finished
match's replay seeks where the seek bar is put."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from tests.web.conftest import NewPage
from tests.web.flows import call, poll
from tests.web.stack import Stack

Shot = Callable[[Page, str], None]
TICK = "() => Number(document.querySelector('[data-testid=watch-canvas]')?.dataset.tick ?? -1)"


def relay_matches(stack: Stack) -> dict[str, Any]:
    status, body = call(stack, "GET", "/api/spectator/v1/matches")
    assert status == 200, body
    return dict(body)


def test_the_bots_live_match_is_listed_and_plays_on_the_watch_page(
        stack: Stack, new_page: NewPage, shot: Shot) -> None:
    live = poll("a live match on the relay", lambda: relay_matches(stack)["live"], timeout_s=150)
    page = new_page()
    page.goto("/watch")
    expect(page.get_by_role("heading", level=1, name="Watch")).to_be_visible()
    rows = page.get_by_test_id("live-match-row")
    expect(rows.first).to_be_visible(timeout=20_000)
    match_id = live[0]["match_id"]
    link = page.get_by_role("link", name=re.compile(f"^Watch .*{re.escape(match_id)}$"))
    if link.count() == 0:  # that match ended meanwhile: take the first listed
        link = rows.first.get_by_role("link", name=re.compile("^Watch "))
    link.click()
    expect(page).to_have_url(re.compile(r"/watch/[^/]+$"))
    page.wait_for_function(f"() => ({TICK})() >= 0", timeout=30_000)
    first = page.evaluate(TICK)
    page.wait_for_function(f"t => ({TICK})() > t + 10", arg=first, timeout=20_000)  # it keeps playing
    expect(page.get_by_test_id("scoreboard-row")).to_have_count(2)  # the two bots
    shot(page, "watching")


def test_a_replay_seeks_to_where_the_seek_bar_is_put(stack: Stack, new_page: NewPage, shot: Shot) -> None:
    replays = poll("a finished match on the relay (the bots' matches last two minutes at most)",
                   lambda: relay_matches(stack)["replays"], timeout_s=240, interval_s=2)
    match_id = replays[0]["match_id"]
    page = new_page()
    page.goto("/watch")
    page.get_by_test_id("replay-row").get_by_role("link", name=re.compile(f"{re.escape(match_id)}$")).click()
    expect(page).to_have_url(re.compile(f"/replays/{re.escape(match_id)}$"))
    seek = page.get_by_role("slider", name="Seek")
    expect(seek).to_be_enabled(timeout=30_000)
    page.wait_for_function(f"() => ({TICK})() >= 0", timeout=30_000)
    low, high = float(seek.get_attribute("min") or 0), float(seek.get_attribute("max") or 0)
    assert high - low > 100, (low, high)
    before = page.evaluate(TICK)
    target = int(low + (high - low) * 0.75)
    assert before < target - (high - low) * 0.3, (before, target)
    seek.fill(str(target))
    page.wait_for_function(f"([t, slack]) => Math.abs(({TICK})() - t) < slack",
                           arg=[target, (high - low) * 0.2], timeout=20_000)
    shot(page, "sought")
