"""The elysium command: key generation, development tokens, and the local stack runner."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from elysium import tokens
from gameserver.client import GameClient
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "elysium", *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


def test_keygen_and_a_development_join_token(tmp_path: Path) -> None:
    out = run("keygen", "--name", "join", "--dir", str(tmp_path))
    assert out.returncode == 0 and json.loads(out.stdout)["public_key"].endswith("join.pub")
    out = run("token", "join", "--match", "m1", "--player", "p1", "--server", "s1", "--key-file",
              str(tmp_path / "join.key"))
    assert out.returncode == 0
    verifier = tokens.Verifier(tokens.load_public_key(path=str(tmp_path / "join.pub")))
    claims = verifier.verify(out.stdout.strip(), tokens.JOIN_AUDIENCE, max_ttl_s=60)
    assert (claims["sub"], claims["mid"], claims["srv"], claims["room"]["mode"]) == ("p1", "m1", "s1", "arena")


def test_keygen_refuses_to_replace_a_pair_unless_forced(tmp_path: Path) -> None:
    assert run("keygen", "--name", "join", "--dir", str(tmp_path)).returncode == 0
    before = (tmp_path / "join.key").read_bytes(), (tmp_path / "join.pub").read_bytes()
    out = run("keygen", "--name", "join", "--dir", str(tmp_path))
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.splitlines() == [f"elysium keygen: {tmp_path / 'join.key'} already exists; give --force to "
                                       f"replace the pair (tokens signed with the old key stop verifying)"]
    assert ((tmp_path / "join.key").read_bytes(), (tmp_path / "join.pub").read_bytes()) == before
    (tmp_path / "join.key").unlink()  # half a pair is refused too: the other half would no longer match
    assert run("keygen", "--name", "join", "--dir", str(tmp_path)).returncode == 1
    assert (tmp_path / "join.pub").read_bytes() == before[1]
    out = run("keygen", "--name", "join", "--dir", str(tmp_path), "--force")
    assert out.returncode == 0 and (tmp_path / "join.pub").read_bytes() != before[1]


def test_token_join_without_a_key_names_the_variable_and_the_flag(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELYSIUM_")}
    done = subprocess.run([sys.executable, "-m", "elysium", "token", "join", "--match", "m", "--player", "p"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env={**env, "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])})
    assert done.returncode != 0
    assert "ELYSIUM_JOIN_PRIVATE_KEY_FILE" in done.stderr and "--key-file" in done.stderr, done.stderr


def test_cli_errors_name_the_problem(tmp_path: Path) -> None:
    out = run("token", "join", "--match", "m", "--player", "p", "--key-file", str(tmp_path / "nope.key"))
    assert out.returncode != 0 and "cannot read private key file" in out.stderr
    out = run("token", "join", "--match", "m", "--player", "p", "--key-file", "x", "--ttl-s", "600")
    assert out.returncode != 0 and "--ttl-s must be between 0 and 60" in out.stderr
    out = run("frobnicate")
    assert out.returncode == 2 and "invalid choice" in out.stderr


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                found.add(int(entry.name))
    return found


async def test_up_runs_the_stack_with_bots_and_ctrl_c_leaves_no_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELYSIUM_")}
    proc = subprocess.Popen([sys.executable, "-m", "elysium", "up", "--state-dir", str(tmp_path), "--bots", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        services: dict[str, str] = {}
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith('{"event": "up"'):
                services = json.loads(line)["services"]
                break
        assert "gameserver" in services, "".join(lines) + (proc.stderr.read() if proc.poll() is not None else "")
        text = "".join(lines)
        assert "Elysium is up." in text and "redis" in text and "bots" in text
        children = children_of(proc.pid)
        assert len(children) >= 3  # redis, the game server, the bots (and any other service)
        gs = services["gameserver"]
        async with aiohttp.ClientSession() as s:
            async with s.get(gs + "/healthz") as r:
                assert r.status == 200
            # The bots are playing a live match on the local server.
            for _ in range(100):
                async with s.get(gs + "/metrics") as r:
                    metrics = await r.text()
                if 'elysium_gameserver_rooms{state="running"} 1.0' in metrics:
                    break
                await asyncio_sleep(0.2)
            assert 'elysium_gameserver_rooms{state="running"} 1.0' in metrics
        # And a player can join with a development token, as README says.
        token = run("token", "join", "--match", "readme", "--player", "me", "--key-file",
                    str(tmp_path / "keys" / "join.key"), "--min-players", "1").stdout.strip()
        client = GameClient(gs.replace("http://", "ws://") + "/v1/play")
        assert (await client.join(token))["t"] == "welcome"
        await client.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0

        def alive() -> list[int]:
            return [pid for pid in children if Path(f"/proc/{pid}").exists()
                    and "zombie" not in (Path(f"/proc/{pid}/status").read_text().lower())]

        wait_until(lambda: not alive(), what="every child of elysium up exiting")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def asyncio_sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def _every_command() -> list[tuple[str, ...]]:
    import argparse

    from elysium.cli import build_parser, commands

    return [tuple(parser.prog.split()[1:]) for parser in commands(build_parser())
            if isinstance(parser, argparse.ArgumentParser) and parser.prog != "elysium"]


def test_every_flag_of_every_command_has_help_and_shows_its_default() -> None:
    import argparse

    from elysium.cli import build_parser, commands

    missing, no_default = [], []
    for parser in commands(build_parser()):
        text = " ".join(parser.format_help().split())
        for action in parser._actions:
            name = f"{parser.prog} {'/'.join(action.option_strings) or action.dest}"
            if action.help is argparse.SUPPRESS:
                assert action.option_strings == ["--listen-fd"], name  # the one hidden flag, for --workers replicas
                continue
            if not action.help:
                missing.append(name)
            if isinstance(action, argparse._SubParsersAction):
                missing.extend(f"{parser.prog} {choice.dest}" for choice in action._choices_actions if not choice.help)
            elif action.option_strings and not any(action.default is v for v in (None, False, argparse.SUPPRESS)):
                if f"default: {action.default})" not in text:
                    no_default.append(name)
    assert missing == [] and no_default == []


def test_version_is_the_package_version() -> None:
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"elysium {version}"


def test_an_unknown_flag_shows_the_usage_of_its_own_subcommand() -> None:
    paths = _every_command()
    assert ("matchmaker",) in paths and ("commerce", "admin-token") in paths and ("token", "join") in paths
    for path in paths:
        out = run(*path, "--bogus")
        assert out.returncode == 2, (path, out.stderr)
        assert out.stderr.startswith(f"usage: elysium {' '.join(path)} "), (path, out.stderr)
        assert "--bogus" in out.stderr or "required" in out.stderr, (path, out.stderr)


def test_scripts_elysium_runs_the_command_of_the_repository_virtualenv_in_the_callers_directory(
        tmp_path: Path) -> None:
    """README's commands start with ``scripts/elysium``: it bootstraps like scripts/up (here the
    virtual environment is already up to date, so it installs nothing) and runs ``.venv/bin/elysium``."""
    import hashlib
    import shutil

    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    for name in ("scripts/elysium", "scripts/bootstrap.sh", "pyproject.toml"):
        shutil.copy2(ROOT / name, repo / name)
    venv_bin = repo / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(sys.executable)
    (venv_bin / "elysium").symlink_to(Path(sys.executable).with_name("elysium"))
    digest = hashlib.sha256((repo / "pyproject.toml").read_bytes()).hexdigest()[:16]
    (repo / ".venv" / f".elysium-dev-{digest}").touch()  # what scripts/test leaves behind
    caller = tmp_path / "elsewhere"
    caller.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([str(repo / "scripts" / "elysium"), "--version"], cwd=caller, env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("elysium "), out.stderr
    out = subprocess.run([str(repo / "scripts" / "elysium"), "keygen", "--name", "join", "--dir", "keys"], cwd=caller,
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert (caller / "keys" / "join.key").is_file()  # relative to where it was called from
    assert sorted(p.name for p in (repo / ".venv").iterdir()) == [f".elysium-dev-{digest}", "bin"]  # no install
