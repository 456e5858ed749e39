"""Commerce fixtures: the real app from ``create_app`` on a real port, against the session's
MongoDB wire server (a fresh database per test) and Redis."""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from commerce.app import create_app
from commerce.settings import CommerceSettings
from elysium import config, procs, tokens


def make_settings(mongo_url: str, db_name: str, redis_url: str, keys_dir: Path,
                  environ: Mapping[str, str] | None = None, **overrides: Any) -> CommerceSettings:
    """Test settings; ``environ`` holds variables as a deployment sets them (the chain's, say)."""
    base: dict[str, Any] = dict(
        mongo_url=mongo_url, db_name=db_name, redis_url=redis_url,
        player_private_key_file=str(keys_dir / "player.key"), player_public_key_file=str(keys_dir / "player.pub"),
        service_public_key_file=str(keys_dir / "service.pub"),
        argon2_time_cost=1, argon2_memory_kib=1024, rewards_claim_idle_s=0.5, consumer_name="test-1")
    base.update(overrides)
    return config.load(CommerceSettings, environ=dict(environ or {}), **base)


@pytest.fixture
def own_mongo(tmp_path: Path) -> Iterator[procs.Child]:
    """A MongoDB server of the test's own, to kill, stop or wedge without stalling the rest of the suite."""
    child = procs.start_mongo(storage=tmp_path / "mongo")
    yield child
    with contextlib.suppress(ProcessLookupError):
        os.kill(child.proc.pid, signal.SIGCONT)  # a test may have left it stopped
    child.stop()


@pytest.fixture
def settings(mongo_url: str, mongo_db_name: str, redis_url: str, keys_dir: Path) -> CommerceSettings:
    return make_settings(mongo_url, mongo_db_name, redis_url, keys_dir)


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[[CommerceSettings], Any]]:
    started: list[TestClient[web.Request, web.Application]] = []

    async def start(settings: CommerceSettings) -> TestClient[web.Request, web.Application]:
        client: TestClient[web.Request, web.Application] = TestClient(TestServer(create_app(settings)))
        await client.start_server()
        started.append(client)
        return client

    yield start
    for c in reversed(started):
        await c.close()


@pytest.fixture
async def client(client_for: Any, settings: CommerceSettings) -> TestClient[web.Request, web.Application]:
    c: TestClient[web.Request, web.Application] = await client_for(settings)
    return c


@pytest.fixture(scope="session")
def admin_token(keys_dir: Path) -> str:
    signer = tokens.Signer(tokens.load_private_key(path=str(keys_dir / "service.key")), "elysium-test")
    return signer.issue("ops", tokens.SERVICE_AUDIENCE, 3600, {"scope": "commerce:admin"})


def admin_headers(token: str, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if key:
        headers["Idempotency-Key"] = key
    return headers


async def register(client: TestClient[web.Request, web.Application], username: str | None = None,
                   password: str = "correct horse battery") -> dict[str, Any]:
    name = username or f"p{uuid.uuid4().hex[:10]}"
    resp = await client.post("/v1/accounts", json={"username": name, "password": password})
    assert resp.status == 201, await resp.text()
    body: dict[str, Any] = await resp.json()
    body["username"] = name
    body["headers"] = {"Authorization": f"Bearer {body['access_token']}"}
    return body
