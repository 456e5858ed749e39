"""The market's data layer (web/src/features/market) against the real stack, without a browser.

Runs ``web/test/market.live.test.ts`` (Vitest, Node's fetch) against the session's stack through its
gateway: a store purchase, a listing found by search and bought by another account, a refusal for
want of funds, a trade, a sandbox payment, the ledger and a wallet challenge.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.web.stack import WEB, Stack


@pytest.mark.timeout(300)
def test_the_market_data_layer_against_the_real_stack(stack: Stack) -> None:
    npx = shutil.which("npx")
    if npx is None:
        pytest.fail("npx is not on PATH: install node and npm (scripts/bootstrap.sh)", pytrace=False)
    done = subprocess.run([npx, "vitest", "run", "test/market.live.test.ts"], cwd=WEB, capture_output=True,
                          text=True, timeout=280,
                          env={**os.environ, "CI": "1", "ELYSIUM_WEB_LIVE": "1", "ELYSIUM_WEB_GATEWAY_URL": stack.web_url})
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-6000:]
    assert "1 passed" in out, out[-3000:]
