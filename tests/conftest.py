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
    return tokens.Signer(tokens.load_private_key(path=str(keys_dir / "join.key")), tokens.DEV_ISSUER)


@pytest.fixture(scope="session")
def mongo_server() -> Iterator[procs.Child]:
    """The embedded MongoDB wire-protocol server (SecantusDB) as a child process for the session."""
    child = procs.start_mongo()
    yield child
    child.stop()


@pytest.fixture
def mongo_url(mongo_server: procs.Child) -> str:
    """The server's URL; each test should use its own database name (see ``mongo_db_name``)."""
    return mongo_server.url


@pytest.fixture
def mongo_db_name(request: pytest.FixtureRequest) -> str:
    import re
    import uuid

    base = re.sub(r"[^A-Za-z0-9]", "_", request.node.name)[:40]
    return f"t_{base}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def player_signer(keys_dir: Path) -> tokens.Signer:
    """Signs player access tokens the way commerce does (tests use it before or beside commerce)."""
    return tokens.Signer(tokens.load_private_key(path=str(keys_dir / "player.key")), "elysium-commerce")
