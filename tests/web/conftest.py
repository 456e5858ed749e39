"""Fixtures for the browser tests: the real stack (``elysium up`` and the built client), headless chromium,
and pages that leave a screenshot in ``test-results/web/`` when their test ends."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.web.stack import RESULTS, Stack, build_client, start_stack

NewPage = Callable[..., Page]
TIMEOUT_S = 420  # the first test also builds the client and starts the stack


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.path)).parent == Path(__file__).parent and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TIMEOUT_S))


def chromium_path() -> str:
    """The chromium on PATH; a browser test without one fails with one line saying so (it never skips)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is not on PATH: the browser tests need it (scripts/bootstrap.sh dev installs it; "
                    "or apt-get install chromium)", pytrace=False)
    return found


@pytest.fixture(scope="session")
def built_client() -> None:
    """``web/dist`` as the sources are now (built once per session when a source is newer)."""
    build_client()


@pytest.fixture(scope="session")
def stack(built_client: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(tmp_path_factory.mktemp("stack"), bots=2)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_session: Playwright) -> Iterator[Browser]:
    path = chromium_path()
    launched = playwright_session.chromium.launch(executable_path=path, headless=True,
                                                  args=["--disable-gpu", "--no-sandbox"])
    yield launched
    launched.close()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:120]


@pytest.fixture
def new_page(browser: Browser, stack: Stack, request: pytest.FixtureRequest) -> Iterator[NewPage]:
    """``new_page(width=1280, height=800, base_url=stack)``: a page in a fresh browser context (its own session).

    Every page's console errors are printed (pytest shows them when the test fails) and each page
    left open gets a screenshot when the test ends.
    """
    contexts: list[BrowserContext] = []
    pages: list[Page] = []

    def make(width: int = 1280, height: int = 800, base_url: str = "") -> Page:
        context = browser.new_context(base_url=base_url or stack.web_url, viewport={"width": width, "height": height})
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        index = len(pages)
        page.on("console", lambda m: print(f"[page {index} console.{m.type}] {m.text}") if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: print(f"[page {index} error] {e}"))
        pages.append(page)
        return page

    yield make
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = _slug(request.node.name)
    for i, page in enumerate(pages):
        if not page.is_closed():
            try:
                page.screenshot(path=str(RESULTS / f"{name}-end-{i}.png"), full_page=True)
            except Exception as exc:  # noqa: BLE001 - a screenshot is an artifact, never the verdict
                print(f"no screenshot of page {i}: {exc}")
    for context in contexts:
        context.close()


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[[Page, str], None]:
    """``shot(page, "what")`` saves ``test-results/web/<test>-<what>.png``."""
    def save(page: Page, what: str) -> None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(RESULTS / f"{_slug(request.node.name)}-{_slug(what)}.png"), full_page=True)

    return save
