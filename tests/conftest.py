"""Shared fixtures: real servers started on free ports, throwaway keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as sync_redis

from elysium import procs, tokens


@pytest.fixture(scope="session")
def redis_server() -> Iterator[procs.Child]:
    """A redis-server child process for the whole test session."""
    child = procs.start_redis()
    yield child
    child.stop()


@pytest.fixture
def redis_url(redis_server: procs.Child) -> Iterator[str]:
    """A clean Redis for one test."""
    client = sync_redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    yield redis_server.url


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keys")
    for name in ("join", "player", "service"):
        tokens.generate_keypair(folder, name)
    return folder


@pytest.fixture(scope="session")
def join_signer(keys_dir: Path) -> tokens.Signer:
    return tokens.Signer(tokens.load_private_key(path=str(keys_dir / "join.key")), "elysium-test")
