"""Chain fixtures: one embedded chain process per test module (a fresh state folder)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.commerce.chain.chains import ChainProcess, start_chain


@pytest.fixture(scope="module")
def chain_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChainProcess]:
    chain = start_chain(tmp_path_factory.mktemp("chain"))
    yield chain
    chain.stop()
