"""``elysium bots`` as README runs it: it finds the development key ``elysium up`` makes, names
the variable and the flag when there is none, and against a wrong URL says why on each failed
attempt and gives up with status 1 after ``--max-failures``."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from elysium import procs
from gameserver.server import GameServer
from tests.gameserver.conftest import SERVER_ID
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[2]


def plain_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("{")]


def clean_env() -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("ELYSIUM_")},
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def test_without_a_key_the_variable_and_the_flag_are_named(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "elysium", "bots", "--url", "ws://127.0.0.1:7350/v1/play",
                           "--server-id", "local-1"], cwd=tmp_path, env=clean_env(), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    said = plain_lines(done.stderr)
    assert len(said) == 1 and "ELYSIUM_JOIN_PRIVATE_KEY_FILE" in said[0] and "--key-file" in said[0], said


def test_a_url_that_is_not_a_websocket_url_is_refused(tmp_path: Path, keys_dir: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "elysium", "bots", "--url", "http://127.0.0.1:7350/v1/play",
                           "--server-id", "local-1", "--key-file", str(keys_dir / "join.key")], cwd=tmp_path,
                          env=clean_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert plain_lines(done.stderr) == ["elysium bots: --url must be a ws:// or wss:// URL, "
                                        "got 'http://127.0.0.1:7350/v1/play'"], done.stderr


def test_a_wrong_url_says_why_on_each_attempt_and_gives_up(tmp_path: Path, keys_dir: Path) -> None:
    url = f"ws://127.0.0.1:{procs.free_port()}/v1/play"
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "elysium", "bots", "--url", url, "--server-id", "local-1",
                           "--key-file", str(keys_dir / "join.key"), "--max-failures", "3"], cwd=tmp_path,
                          env=clean_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    said = plain_lines(done.stderr)
    assert len(said) == 3, said
    for n, line in enumerate(said[:2], 1):
        assert line.startswith(f"elysium bots: cannot play on {url}: ") and "refused" in line.lower(), line
        assert line.endswith(f"retrying in 1 s (failure {n} of 3)"), line
    assert said[2].startswith(f"elysium bots: giving up after 3 failed attempts: cannot play on {url}: "), said
    assert time.monotonic() - began < 30


async def test_the_development_key_of_elysium_up_is_found(tmp_path: Path, keys_dir: Path,
                                                          game_server: GameServer) -> None:
    """README: after ``scripts/up``, ``elysium bots --url URL --server-id ID`` needs no key flag."""
    state = tmp_path / ".elysium" / "keys"
    state.mkdir(parents=True)
    shutil.copy(keys_dir / "join.key", state / "join.key")  # the pair the game server verifies with
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "elysium", "bots", "--url", game_server.public_url, "--server-id", SERVER_ID,
        "--count", "2", cwd=tmp_path, env=clean_env(), stderr=asyncio.subprocess.PIPE)
    try:
        room = await until(lambda: next((r for r in game_server.rooms.values() if r.players == 2), None),
                           timeout_s=30, what="two bots playing a match")
        assert room.players == 2
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_bots_play_king_of_the_hill_in_two_teams_and_reach_the_hill(tmp_path: Path, keys_dir: Path,
                                                                          game_server: GameServer) -> None:
    from gameserver.modes import koth_rules as kr
    from gameserver.modes.koth import KingOfTheHill

    key = tmp_path / "join.key"
    shutil.copy(keys_dir / "join.key", key)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "elysium", "bots", "--url", game_server.public_url, "--server-id", SERVER_ID,
        "--mode", "koth", "--count", "4", "--key-file", str(key), cwd=tmp_path, env=clean_env(),
        stderr=asyncio.subprocess.PIPE)
    try:
        room = await until(lambda: next((r for r in game_server.rooms.values() if r.players == 4), None),
                           timeout_s=30, what="four bots playing a match")
        mode = room.mode
        assert isinstance(mode, KingOfTheHill) and room.spec.teams == 2
        assert sorted(s.team for s in room.occupied()) == [0, 0, 1, 1]
        await until(lambda: mode.game.wire[:, kr.ON_HILL].any(), timeout_s=30, what="a bot on the hill")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_bots_refuse_more_than_sixteen_in_king_of_the_hill() -> None:
    done = subprocess.run([sys.executable, "-m", "elysium", "bots", "--url", "ws://127.0.0.1:7350/v1/play",
                           "--server-id", "local-1", "--mode", "koth", "--count", "17"],
                          capture_output=True, text=True, timeout=60, env=clean_env())
    assert done.returncode == 1 and "--count must be between 1 and 16 in koth" in done.stderr
