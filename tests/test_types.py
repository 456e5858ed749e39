"""The whole tree type-checks with ``mypy --strict``, as configured in pyproject.toml."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("elysium", "gameserver", "matchmaker", "spectator", "commerce", "butler", "loadtest", "benchmarks", "tests")


def test_the_configuration_covers_the_whole_tree() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert config["strict"] is True
    assert set(config["files"]) >= set(PACKAGES) | {str(p.relative_to(ROOT)) for p in (ROOT / "scripts").glob("*.py")}
    # Every Python package at the root is checked, including ones added later.
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages <= set(config["files"]), packages - set(config["files"])


def test_the_tree_type_checks_strictly() -> None:
    # No cache: a stale one can hide (or invent) errors when the configuration changes.
    out = subprocess.run([sys.executable, "-m", "mypy", "--config-file", "pyproject.toml", "--cache-dir", os.devnull],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, "mypy --strict found errors:\n" + out.stdout + out.stderr
