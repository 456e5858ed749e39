"""``elysium matchmaker --workers 2``: replicas sharing one port, stopped together, none left behind."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from elysium import keys as shared_keys
from elysium import procs
from matchmaker import keys
from tests.listening import check_listening
from tests.workers import owner, wait_gone

ROOT = Path(__file__).parents[2]
MAX_CONNECTIONS = 64


@pytest.fixture
def start(redis_url: str, mongo_url: str, keys_dir: Path, tmp_path: Path) -> Iterator[Any]:
    started: list[subprocess.Popen[bytes]] = []

    def run(*args: str, **env_extra: str) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
        env = {**os.environ, "ELYSIUM_REDIS_URL": redis_url, "ELYSIUM_MONGO_URL": mongo_url,
               "ELYSIUM_MATCHMAKER_DB": "workers_test", "ELYSIUM_MATCHMAKER_ID": "mmw",
               "ELYSIUM_PLAYER_PUBLIC_KEY_FILE": str(keys_dir / "player.pub"),
               "ELYSIUM_JOIN_PRIVATE_KEY_FILE": str(keys_dir / "join.key"), **env_extra}
        # The logs go to a file: an unread pipe fills up and stalls the workers writing to it.
        errors = (tmp_path / f"stderr-{len(started)}.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "elysium", "matchmaker", "--port", "0", *args], cwd=ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=errors, start_new_session=True)
        started.append(proc)
        errors.close()
        assert proc.stdout is not None
        line = json.loads(proc.stdout.readline())
        assert line["event"] == "listening" and line["service"] == "matchmaker"
        return proc, line

    yield run
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _created_count(conn: http.client.HTTPConnection) -> int:
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    found = re.search(r'elysium_matchmaker_tickets_total\{mode="arena",outcome="created"\} (\S+)', text)
    return int(float(found.group(1))) if found else 0


def test_two_workers_share_the_port_and_stop_together(start: Any, player_token: Any, redis_url: str) -> None:
    proc, line = start("--workers", "2")
    port, pids = line["port"], line["pids"]
    check_listening(line, "matchmaker", workers=2, id="mmw")
    assert len(set(pids)) == 2 and line["pid"] == proc.pid
    body = json.dumps({"mode": "arena", "regions": {"local": 10}})
    # New connections until both workers hold some: the kernel spreads them over the workers.
    conns: dict[int, list[http.client.HTTPConnection]] = {pid: [] for pid in pids}
    try:
        for i in range(MAX_CONNECTIONS):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", "/v1/tickets", body=body, headers={
                "Authorization": f"Bearer {player_token(f'w{i}')}", "Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 201
            conns[owner(conn.sock, port, pids)].append(conn)
            if all(conns.values()) and i >= 3:
                break
        assert all(conns.values()), "every connection went to one worker"
        # Each worker counts the tickets it created itself: exactly those of its connections.
        for held in conns.values():
            assert {_created_count(c) for c in held} == {len(held)}
        created = sum(len(held) for held in conns.values())
    finally:
        for held in conns.values():
            for conn in held:
                conn.close()
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.zcard(keys.queue("arena")) == created
        deadline = time.monotonic() + 20
        consumers: set[str] = set()
        while time.monotonic() < deadline and len(consumers) < 2:  # each worker runs its results consumer
            try:
                consumers = {c["name"].decode() for c in
                             client.xinfo_consumers(shared_keys.RESULTS_STREAM, keys.RATINGS_GROUP)}
            except redis.ResponseError:
                pass
            time.sleep(0.05)
        assert consumers == {"mmw-w0", "mmw-w1"}
    finally:
        client.close()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert wait_gone(pids) == []


def test_a_worker_that_dies_stops_the_service_with_an_error(start: Any) -> None:
    proc, line = start("--workers", "2")
    os.kill(line["pids"][0], signal.SIGKILL)
    assert proc.wait(30) == 1
    assert wait_gone(line["pids"]) == []


def test_ctrl_c_to_the_process_group_drains_every_worker_and_exits_0(start: Any) -> None:
    proc, line = start("--workers", "2")
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the parent and the children
    assert proc.wait(30) == 0
    assert wait_gone(line["pids"]) == []


def test_workers_do_not_outlive_a_killed_parent(start: Any) -> None:
    proc, line = start(ELYSIUM_MATCHMAKER_WORKERS="2")
    assert line["workers"] == 2
    proc.kill()
    proc.wait()
    assert wait_gone(line["pids"]) == []


def test_bad_worker_count_names_the_variable(redis_url: str, mongo_url: str, keys_dir: Path) -> None:
    env = {**os.environ, "ELYSIUM_REDIS_URL": redis_url, "ELYSIUM_MONGO_URL": mongo_url,
           "ELYSIUM_PLAYER_PUBLIC_KEY_FILE": str(keys_dir / "player.pub"),
           "ELYSIUM_JOIN_PRIVATE_KEY_FILE": str(keys_dir / "join.key"), "ELYSIUM_MATCHMAKER_WORKERS": "0"}
    done = subprocess.run([sys.executable, "-m", "elysium", "matchmaker", "--port", str(procs.free_port())],
                          check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "ELYSIUM_MATCHMAKER_WORKERS" in done.stderr
