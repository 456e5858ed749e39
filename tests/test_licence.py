"""Elysium is Apache-2.0, and nothing it needs at run time is under a copyleft licence.

The embedded MongoDB server (GPL-2.0) may only be an optional extra, started as a separate
process; tests/test_dependencies.py keeps product code from importing it.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
COPYLEFT = re.compile(r"\b(A?GPL|LGPL|GNU General|GNU Affero|GNU Lesser)", re.IGNORECASE)


def _licences(distribution: str) -> str:
    meta = importlib.metadata.metadata(distribution)
    classifiers = [c for c in meta.get_all("Classifier") or [] if c.startswith("License")]
    declared = [*(meta.get_all("License-Expression") or []), *(meta.get_all("License") or [])]
    return " ".join([*declared, *classifiers])


def test_the_project_is_released_under_apache_2() -> None:
    assert PROJECT["license"] == "Apache-2.0"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "Apache License 2.0" in (ROOT / "README.md").read_text()
    assert importlib.metadata.metadata("elysium")["License-Expression"] == "Apache-2.0"


def test_no_runtime_dependency_is_copyleft() -> None:
    names = [re.split(r"[\[=<>!~ ]", requirement, maxsplit=1)[0] for requirement in PROJECT["dependencies"]]
    assert names
    copyleft = {name: _licences(name) for name in names if COPYLEFT.search(_licences(name))}
    assert not copyleft, f"runtime dependencies under a copyleft licence: {copyleft}"


def test_the_gpl_embedded_server_is_only_an_optional_extra() -> None:
    runtime = " ".join(PROJECT["dependencies"]).lower()
    assert "secantusdb" not in runtime
    assert any("secantusdb" in r.lower() for r in PROJECT["optional-dependencies"]["embedded"])
