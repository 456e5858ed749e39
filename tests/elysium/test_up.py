"""Stopping ``elysium up``: the game server drains and its match's result is kept; a second
Ctrl-C stops at once; SIGHUP stops every child; one stack per state folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from elysium import keys, procs, redisreply
from elysium.results import MatchResult
from tests.elysium.test_cli import children_of
from tests.waiting import until, wait_until


def start_up(state: Path, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], dict[str, str]]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ELYSIUM_")}
    clean.update(env or {})
    proc = subprocess.Popen([sys.executable, "-m", "elysium", "up", "--state-dir", str(state), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean)
    assert proc.stdout is not None
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith('{"event": "up"'):
            return proc, json.loads(line)["services"]
    proc.kill()
    raise AssertionError("".join(lines) + (proc.stderr.read() if proc.stderr else ""))


def alive(pids: set[int]) -> list[int]:
    found = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text().lower()
        except OSError:
            continue
        if "zombie" not in status:
            found.append(pid)
    return found


def descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        for child in children_of(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


async def _running_match(gameserver: str) -> bool:
    async with aiohttp.ClientSession() as s, s.get(gameserver + "/metrics") as r:
        return 'elysium_gameserver_rooms{state="running"} 1.0' in await r.text()


async def test_stopping_up_gives_the_game_server_its_drain_and_keeps_the_match_result(tmp_path: Path) -> None:
    # A drain longer than the 10 s after which up used to kill every service.
    proc, services = start_up(tmp_path, "--bots", "2", env={"ELYSIUM_DRAIN_TIMEOUT_S": "12"})
    try:
        await until(lambda: _running_match(services["gameserver"]), timeout_s=60, interval_s=0.2,
                    what="the bots playing a match")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err
        assert "waiting up to 42 s for gameserver to drain (its drain timeout is 12 s" in out, out
        assert "Ctrl-C again to stop at once" in out
    finally:
        stop(proc)
    # The stack's Redis kept the result on disk: the bots' match, ended by the drain, with its players.
    redis = procs.start_redis(data_dir=tmp_path / "redis")
    try:
        import redis as sync_redis

        client = sync_redis.Redis.from_url(redis.url)
        entries = redisreply.stream_entries(client.xrange(keys.RESULTS_STREAM))
        client.close()
    finally:
        redis.stop()
    results = [MatchResult.from_entry(fields) for _, fields in entries]
    assert [(r.reason, len(r.players)) for r in results][-1:] == [("shutdown", 2)], results


async def test_a_second_ctrl_c_stops_everything_at_once(tmp_path: Path) -> None:
    proc, services = start_up(tmp_path, "--bots", "2")
    try:
        await until(lambda: _running_match(services["gameserver"]), timeout_s=60, interval_s=0.2,
                    what="the bots playing a match")
        children = descendants(proc.pid)
        proc.send_signal(signal.SIGINT)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("Stopping: waiting up to 60 s for gameserver"), line
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        assert time.monotonic() - started < 15  # not the 30 s drain
        wait_until(lambda: not alive(children), what="every child of elysium up exiting")
    finally:
        stop(proc)


def test_one_stack_per_state_folder_and_sighup_stops_every_child(tmp_path: Path) -> None:
    proc, _ = start_up(tmp_path, "--bots", "0")
    try:
        children = descendants(proc.pid)
        assert len(children) >= 3  # redis, mongo and the services
        second = subprocess.run([sys.executable, "-m", "elysium", "up", "--state-dir", str(tmp_path), "--bots", "0"],
                                capture_output=True, text=True, timeout=60,
                                env={k: v for k, v in os.environ.items() if not k.startswith("ELYSIUM_")})
        assert second.returncode == 1
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert f"another stack (pid {proc.pid}) is running in {tmp_path}" in lines[0]
        assert "--state-dir" in lines[0]
        assert alive(children) and proc.poll() is None  # the first stack is untouched
        # The terminal closes.
        proc.send_signal(signal.SIGHUP)
        proc.wait(timeout=60)
        wait_until(lambda: not alive(children), timeout_s=30, what="every child of elysium up exiting")
    finally:
        stop(proc)


def test_a_killed_up_takes_its_databases_with_it(tmp_path: Path) -> None:
    """SIGKILL leaves up no chance to clean up: every child, the databases included, still goes."""
    proc, _ = start_up(tmp_path, "--bots", "0")
    try:
        children = descendants(proc.pid)
        proc.kill()
        proc.wait()
        wait_until(lambda: not alive(children), timeout_s=60, what="every child of a killed elysium up exiting")
    finally:
        stop(proc)
