"""The stack answers on one origin: the client's shell loads, and a client-side route is served index.html."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.web.conftest import NewPage
from tests.web.stack import Stack


def test_the_client_loads_on_the_stacks_one_origin(stack: Stack, new_page: NewPage) -> None:
    page = new_page()
    page.goto("/")
    expect(page.locator("main#main h1")).to_have_count(1)
    page.goto("/market/listings/not-a-listing")  # a client route, not a file
    expect(page.locator("main#main")).to_be_visible()
