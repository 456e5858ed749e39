"""A service that stops: the gateway answers 502 upstream-unavailable for it, and the page says so plainly.

The stack's own butler keeps running (the other tests use it): this test runs a second butler against the
stack's databases and a second gateway in front of it, then stops that butler.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from elysium import procs
from tests.web.conftest import NewPage
from tests.web.flows import call, poll, register, signed_in
from tests.web.stack import BUILT, ROOT, Stack

Shot = Callable[[Page, str], None]


@dataclass
class Pair:
    butler: subprocess.Popen[bytes]
    gateway: subprocess.Popen[bytes]
    gateway_url: str


def stack_url(stack: Stack, name: str) -> str:
    for line in stack.output:
        m = re.match(rf"^\s*{name}\s+(\S+)", line)
        if m:
            return m.group(1)
    raise AssertionError(f"elysium up printed no {name} line:\n{''.join(stack.output)}")


def start(name: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "elysium", name, "--host", "127.0.0.1", "--port", str(port)],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    procs.wait_for_port("127.0.0.1", port, 60.0, proc)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def pair(stack: Stack) -> Iterator[Pair]:
    env = stack.env()
    env.update({"ELYSIUM_REDIS_URL": stack_url(stack, "redis"), "ELYSIUM_MONGO_URL": stack_url(stack, "mongodb"),
                "ELYSIUM_BUTLER_COMMERCE_URL": stack.services["commerce"],
                "ELYSIUM_BUTLER_MATCHMAKER_URL": stack.services["matchmaker"], "ELYSIUM_BUTLER_DRAIN_TIMEOUT_S": "1"})
    butler_port, gateway_port = procs.free_port(), procs.free_port()
    butler = start("butler", butler_port, env)
    env.update({"ELYSIUM_COMMERCE_URL": stack.services["commerce"], "ELYSIUM_MATCHMAKER_URL": stack.services["matchmaker"],
                "ELYSIUM_SPECTATOR_URL": stack.services["spectator"], "ELYSIUM_BUTLER_URL": f"http://127.0.0.1:{butler_port}",
                "ELYSIUM_GATEWAY_WEB_DIR": str(BUILT), "ELYSIUM_GATEWAY_STATUS_CACHE_S": "0",
                "ELYSIUM_GATEWAY_DRAIN_TIMEOUT_S": "1"})
    try:
        gateway = start("gateway", gateway_port, env)
    except BaseException:
        stop(butler)
        raise
    yield Pair(butler, gateway, f"http://127.0.0.1:{gateway_port}")
    stop(gateway)
    stop(butler)


def test_a_stopped_butler_is_a_502_from_the_gateway_and_a_clear_error_on_the_page(
        stack: Stack, pair: Pair, new_page: NewPage, shot: Shot) -> None:
    player = register(stack, "down")
    page = signed_in(new_page(base_url=pair.gateway_url), player)
    page.goto("/butler")
    page.get_by_label("Message").fill("how much premium do I have")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_test_id("chat-reply").first).to_be_visible(timeout=30_000)  # it works through this gateway
    butler_status = page.get_by_test_id("service-status").filter(has_text="butler")
    expect(butler_status).to_have_class(re.compile("footer-service-up"))

    stop(pair.butler)
    status, body = poll("the gateway answering 502 for the stopped butler", lambda: (lambda r: r if r[0] == 502 else None)(
        call(stack, "GET", "/api/butler/v1/conversations", token=player.access_token, base_url=pair.gateway_url)))
    assert re.split(r"[:/]", str(body["type"]))[-1] == "upstream-unavailable", body

    page.get_by_label("Message").fill("what's in my inventory")
    page.get_by_role("button", name="Send").click()
    alert = page.get_by_role("alert").filter(has_text=re.compile(r"\S"))
    expect(alert.first).to_be_visible(timeout=20_000)
    text = alert.first.inner_text()
    assert "butler" in text.lower() or "unavailable" in text.lower() or "unreachable" in text.lower(), text
    assert "undefined" not in text and "[object" not in text, text
    shot(page, "butler-down")
    page.reload()
    expect(page.get_by_test_id("service-status").filter(has_text="butler")).to_have_class(
        re.compile("footer-service-down"), timeout=20_000)
    shot(page, "footer-down")
