"""A studio's mode, packaged on its own, added to an unchanged install and played over a websocket.

The test writes a throwaway package (a mode module that imports only ``elysium``, and a
``pyproject.toml`` with an ``elysium.modes`` entry point), installs it into a temporary
virtual environment layered over this project's, starts ``elysium gameserver`` from that
environment and plays a match of the new mode to its end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from elysium import keys, procs, redisreply
from elysium.results import MatchResult
from gameserver.client import GameClient
from tests.gameserver.conftest import SERVER_ID
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[2]
MODE_SOURCE = (ROOT / "tests" / "modes" / "tug.py").read_text()

PYPROJECT = """\
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "studio-tug"
version = "1.0.0"
dependencies = ["elysium"]

[project.entry-points."elysium.modes"]
studio-tug = "studio_tug.mode:StudioTug"

[tool.setuptools]
packages = ["studio_tug"]
"""


def write_package(where: Path) -> Path:
    pkg = where / "studio-tug"
    (pkg / "studio_tug").mkdir(parents=True)
    (pkg / "pyproject.toml").write_text(PYPROJECT)
    (pkg / "studio_tug" / "__init__.py").write_text('"""A studio\'s game mode."""\n')
    source = MODE_SOURCE.replace("class Tug(GameMode[Pull]):", "class StudioTug(GameMode[Pull]):")
    source = source.replace('name: ClassVar[str] = "tug"', 'name: ClassVar[str] = "studio-tug"')
    assert "StudioTug" in source and '"studio-tug"' in source and "gameserver" not in source
    (pkg / "studio_tug" / "mode.py").write_text(source)
    return pkg


def make_venv(where: Path) -> Path:
    """A virtual environment that sees this project's packages (its own site-packages first)."""
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    # --system-site-packages reaches the base interpreter's packages, not this project's venv:
    # add the project's site directory (processing its .pth files, the editable install's too).
    (Path(site) / "project.pth").write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    return python


@pytest.fixture(scope="module")
def studio_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    where = tmp_path_factory.mktemp("studio")
    pkg = write_package(where)
    python = make_venv(where)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                    "--no-build-isolation", "--no-index", "--quiet", str(pkg)], check=True, timeout=300,
                   cwd=where, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    yield python


def test_the_package_adds_its_mode_to_the_environment_and_not_to_ours(studio_env: Path) -> None:
    code = ("import json; from elysium.modes import load_modes; "
            "print(json.dumps(sorted(load_modes())))")
    theirs = subprocess.run([str(studio_env), "-c", code], capture_output=True, text=True, timeout=60, cwd="/")
    assert theirs.returncode == 0, theirs.stderr
    ours = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd="/")
    shipped = json.loads(ours.stdout)
    assert "arena" in shipped and "studio-tug" not in shipped
    assert json.loads(theirs.stdout) == sorted([*shipped, "studio-tug"])  # the shipped modes and the studio's


async def test_a_game_server_from_that_environment_hosts_and_plays_the_mode(
        studio_env: Path, redis_url: str, keys_dir: Path, mint: Callable[..., str]) -> None:
    port = procs.free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ELYSIUM_")},
           "ELYSIUM_REDIS_URL": redis_url, "ELYSIUM_JOIN_PUBLIC_KEY_FILE": str(keys_dir / "join.pub"),
           "ELYSIUM_SERVER_ID": SERVER_ID, "ELYSIUM_GAMESERVER_PORT": str(port), "ELYSIUM_HEARTBEAT_S": "0.5",
           "ELYSIUM_HEARTBEAT_TTL_S": "2", "ELYSIUM_MODES": "studio-tug", "ELYSIUM_LOG_LEVEL": "warning"}
    server = subprocess.Popen([str(studio_env), "-m", "elysium", "gameserver"], env=env, cwd="/",
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    client = aioredis.from_url(redis_url)
    players = [GameClient(f"ws://127.0.0.1:{port}/v1/play") for _ in range(2)]
    try:
        procs.wait_for_port("127.0.0.1", port, 60, server)

        async def heartbeat() -> dict[str, Any] | None:
            raw = await client.get(keys.server(SERVER_ID))
            return json.loads(raw) if raw else None

        beat = await until(heartbeat, timeout_s=20, what="the server's heartbeat")
        assert beat["modes"] == ["studio-tug"]
        assert beat["mode_info"]["studio-tug"]["teams"] == [2, 2]
        assert [o["name"] for o in beat["mode_info"]["studio-tug"]["options"]] == ["rope_m", "time_limit_s"]

        room: dict[str, Any] = {"mode": "studio-tug", "seats": 2, "teams": 2, "min_players": 2, "seed": 4,
                                "options": {"rope_m": 1}}
        welcomes = [await p.join(mint(f"studio-p{i}", "studio-match", **room)) for i, p in enumerate(players)]
        assert [w["t"] for w in welcomes] == ["welcome", "welcome"], welcomes
        assert welcomes[0]["mode"] == "studio-tug" and welcomes[0]["input"]["row"] == ["seq", "pull"]
        assert welcomes[0]["options"] == {"rope_m": 1, "time_limit_s": 60.0}
        team0 = next(p for p, w in zip(players, welcomes) if w["team"] == 0)
        other = next(p for p in players if p is not team0)
        await other.send_row(4)  # out of bounds: a protocol error, the row never reaches the mode
        error = await other.expect("error")
        assert error["code"] == "bad_field" and error["msg"].startswith("pull must be an integer between 0 and 3")
        for _ in range(400):  # team 0 pulls its hardest; one metre of rope is soon won
            await team0.send_row(3)
            await other.send_row(0)
            if (await team0.recv())["t"] == "events" and team0.result is not None:
                break
        assert team0.result is not None and team0.result["reason"] == "rope"

        async def result() -> MatchResult | None:
            entries = redisreply.stream_entries(await client.xrange(keys.RESULTS_STREAM))
            found = [MatchResult.from_entry(f) for _, f in entries if f[b"match_id"] == b"studio-match"]
            return found[0] if found else None

        done = await until(result, timeout_s=20, what="the match result")
        assert done.mode == "studio-tug" and done.reason == "rope"
        winners = done.winners()
        assert winners == {p.player_id for p in done.players if p.team == 0} and winners
        assert all("pulled" in p.stats for p in done.players)
    finally:
        for p in players:
            await p.close()
        await client.aclose()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        out, err = server.communicate(timeout=10)
        assert b"Traceback" not in err, err.decode()[-2000:]


