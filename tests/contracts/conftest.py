"""Contract tests run on a real EVM: each test gets a fresh chain with both contracts deployed."""

from __future__ import annotations

import pytest

from tests.contracts.evm import Evm, fresh_evm


@pytest.fixture
def evm() -> Evm:
    return fresh_evm()
