"""The web client's own checks, so the Python suite (and CI) runs them: the type check and the unit tests."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.web.stack import WEB


def npx(*args: str, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    found = shutil.which("npx")
    if found is None:
        pytest.fail("npx is not on PATH: install node and npm (scripts/bootstrap.sh) to check the web client",
                    pytrace=False)
    return subprocess.run([found, *args], cwd=WEB, capture_output=True, text=True, timeout=timeout_s,
                          env={**os.environ, "CI": "1"})


@pytest.mark.timeout(600)
def test_the_client_type_checks() -> None:
    done = npx("tsc", "-p", ".")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


@pytest.mark.timeout(600)
def test_the_client_unit_tests_pass() -> None:
    done = npx("vitest", "run", "--reporter=dot")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "passed" in done.stdout, done.stdout[-2000:]  # tests ran (none found is a failure too)
