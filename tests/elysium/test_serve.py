"""``elysium.serve`` runs real services as processes: the listening line, SIGTERM drains and
exits 0, a second signal exits at once, a busy port is one line and status 1, and
``--workers 2`` serves from both replicas."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from elysium import devtokens, keys, tokens
from gameserver.client import GameClient
from tests.listening import check_listening, check_records
from tests.workers import owner, wait_gone

ROOT = Path(__file__).resolve().parents[2]


class Started:
    def __init__(self, proc: subprocess.Popen[str], errors: Path) -> None:
        self.proc = proc
        self.errors = errors

    def listening(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, self.errors.read_text()
        return dict(json.loads(line))

    def stderr(self) -> str:
        return self.errors.read_text()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    started: list[subprocess.Popen[str]] = []

    def run(*argv: str, env: dict[str, str]) -> Started:
        errors = tmp_path / f"stderr-{len(started)}.log"  # a file: an unread pipe would stall the service
        with errors.open("w") as err:
            proc = subprocess.Popen([sys.executable, "-m", "elysium", *argv], cwd=ROOT, env=env, text=True,
                                    stdout=subprocess.PIPE, stderr=err, start_new_session=True)
        started.append(proc)
        return Started(proc, errors)

    yield run
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def gameserver_env(redis_url: str, keys_dir: Path, server_id: str, drain_timeout_s: float) -> dict[str, str]:
    return {**os.environ, "ELYSIUM_REDIS_URL": redis_url, "ELYSIUM_JOIN_PUBLIC_KEY_FILE": str(keys_dir / "join.pub"),
            "ELYSIUM_SERVER_ID": server_id, "ELYSIUM_DRAIN_TIMEOUT_S": str(drain_timeout_s),
            "ELYSIUM_HEARTBEAT_S": "0.2"}


async def ready_status(port: int) -> int:
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/readyz") as r:
        return r.status


async def wait_draining(port: int) -> None:
    for _ in range(100):
        if await ready_status(port) == 503:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the service never reported draining")


async def play_a_match(port: int, signer: tokens.Signer, server_id: str) -> tuple[GameClient, GameClient]:
    def token(player: str) -> str:
        room = devtokens.room_claim(seats=2, min_players=2, time_limit_s=120)
        return devtokens.mint_join(signer, match_id="served", player_id=player, server_id=server_id, room=room)

    a, b = GameClient(f"ws://127.0.0.1:{port}/v1/play"), GameClient(f"ws://127.0.0.1:{port}/v1/play")
    await a.join(token("a"))
    await b.join(token("b"))
    await a.expect("delta")
    return a, b


def plain_lines(text: str) -> list[str]:
    """stderr without the JSON log records."""
    return [line for line in text.splitlines() if line and not line.startswith("{")]


async def test_listening_line_then_sigterm_drains_and_exits_0(start: Any, redis_url: str, keys_dir: Path,
                                                             join_signer: tokens.Signer) -> None:
    served = start("gameserver", "--port", "0", env=gameserver_env(redis_url, keys_dir, "serve-1", 1.0))
    line = await asyncio.to_thread(served.listening)
    check_listening(line, "gameserver", id="serve-1")
    port = line["port"]
    assert line["url"] == f"ws://127.0.0.1:{port}/v1/play" and await ready_status(port) == 200
    a, b = await play_a_match(port, join_signer, "serve-1")
    served.proc.send_signal(signal.SIGTERM)
    await wait_draining(port)  # still serving, no longer taking work
    assert served.proc.poll() is None
    assert (await a.expect("delta"))["n"] > 0  # the running match plays on into the drain
    deadline = time.monotonic() + 15
    while a.shutdown is None and time.monotonic() < deadline:  # the drain deadline ends it, then the server goes
        await a.recv(timeout=5)
    assert a.shutdown is not None
    assert await asyncio.to_thread(served.proc.wait, 30) == 0
    await a.close()
    await b.close()
    records = check_records(served.stderr())
    said = [r["msg"] for r in records]
    assert said.index("stopping") < said.index("draining") < said.index("stopped")
    listening = [r for r in records if "listening" in r["msg"]]
    assert [r["msg"] for r in listening] == ["gameserver listening"]  # one record, not one per layer
    assert {k: listening[0][k] for k in line if k != "event"} == {k: v for k, v in line.items() if k != "event"}
    assert listening[0]["settings"]["region"] == "local"
    assert [m for m in said if "stopped" in m] == ["stopped"]
    assert plain_lines(served.stderr()) == []


async def test_a_second_signal_exits_at_once_without_draining(start: Any, redis_url: str, keys_dir: Path,
                                                             join_signer: tokens.Signer) -> None:
    served = start("gameserver", "--port", "0", env=gameserver_env(redis_url, keys_dir, "serve-2", 120.0))
    port = (await asyncio.to_thread(served.listening))["port"]
    a, b = await play_a_match(port, join_signer, "serve-2")
    served.proc.send_signal(signal.SIGTERM)
    await wait_draining(port)
    served.proc.send_signal(signal.SIGTERM)  # the drain would last two minutes
    assert await asyncio.to_thread(served.proc.wait, 10) == 128 + signal.SIGTERM
    assert plain_lines(served.stderr()) == ["elysium gameserver: second SIGTERM, exiting without draining"]
    client = aioredis.from_url(redis_url)
    try:  # no clean stop: the server did not take itself out of the registry
        assert await client.get(keys.server("serve-2")) is not None
    finally:
        await client.aclose()
    await a.close()
    await b.close()


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_busy_port_is_one_line_and_status_1(busy_port: int, redis_url: str, keys_dir: Path) -> None:
    env = gameserver_env(redis_url, keys_dir, "serve-3", 1.0)
    for argv in (["gameserver"], ["spectator", "--workers", "2"]):
        done = subprocess.run([sys.executable, "-m", "elysium", *argv, "--port", str(busy_port)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 1, done.stderr
        assert done.stdout == ""
        assert plain_lines(done.stderr) == [f"elysium {argv[0]}: cannot start: cannot listen on "
                                            f"127.0.0.1:{busy_port}: address already in use"], done.stderr


def test_an_aiohttp_service_on_a_busy_port_is_one_line_and_status_1(busy_port: int, redis_url: str, mongo_url: str,
                                                                     keys_dir: Path) -> None:
    env = {**os.environ, "ELYSIUM_REDIS_URL": redis_url, "ELYSIUM_MONGO_URL": mongo_url,
           "ELYSIUM_PLAYER_PUBLIC_KEY_FILE": str(keys_dir / "player.pub"),
           "ELYSIUM_JOIN_PRIVATE_KEY_FILE": str(keys_dir / "join.key")}
    done = subprocess.run([sys.executable, "-m", "elysium", "matchmaker", "--port", str(busy_port)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    assert plain_lines(done.stderr) == [f"elysium matchmaker: cannot start: cannot listen on "
                                        f"127.0.0.1:{busy_port}: address already in use"], done.stderr


def accepted_by(conn: socket.socket, port: int, pids: list[int]) -> int:
    """The worker that accepted ``conn`` (polled: the accept may still be on its way)."""
    for _ in range(200):
        try:
            return owner(conn, port, pids)
        except AssertionError:
            time.sleep(0.01)
    return owner(conn, port, pids)


def test_two_workers_both_serve_and_stop_together(start: Any, redis_url: str) -> None:
    env = {**os.environ, "ELYSIUM_REDIS_URL": redis_url, "ELYSIUM_SPECTATOR_ID": "serve-w"}
    served = start("spectator", "--port", "0", "--workers", "2", env=env)
    line = served.listening()
    check_listening(line, "spectator", workers=2, id="serve-w")
    port, pids = line["port"], line["pids"]
    assert len(set(pids)) == 2 and line["pid"] == served.proc.pid
    answered: dict[int, int] = {pid: 0 for pid in pids}
    deadline = time.monotonic() + 30
    while not all(answered.values()) and time.monotonic() < deadline:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: relay\r\n")  # the request is not finished yet
            pid = accepted_by(conn, port, pids)
            conn.sendall(b"\r\n")
            assert conn.recv(4096).startswith(b"HTTP/1.1 200 "), pid
            answered[pid] += 1
    assert all(answered.values()), answered
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(30) == 0
    assert wait_gone(pids) == []
