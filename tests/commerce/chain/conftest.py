"""Chain fixtures: one embedded chain process per test module (a fresh state folder)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.commerce.chain.chains import ChainProcess, start_chain


@pytest.fixture(scope="module")
def chain_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChainProcess]:
    chain = start_chain(tmp_path_factory.mktemp("chain"))
    yield chain
    chain.stop()


@pytest.fixture
def own_chain(tmp_path: Path) -> Iterator[ChainProcess]:
    """A chain of the test's own: the audit compares one database with one chain's whole supply."""
    chain = start_chain(tmp_path / "chain")
    yield chain
    chain.stop()
