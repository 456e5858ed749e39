"""Every way a service can fail to start ends the real ``elysium`` process with one plain line on
stderr naming the cause and a non-zero status, for every service, with and without ``--workers``:
a port another server shares with ``SO_REUSEPORT``, a worker whose settings are bad, a host name
that does not resolve, and an error the service did not foresee (no traceback)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def plain_lines(text: str) -> list[str]:
    """stderr without the JSON log records."""
    return [line for line in text.splitlines() if line and not line.startswith("{")]


def elysium(*argv: str, env: dict[str, str], timeout: float = 45) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "elysium", *argv], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def env(redis_url: str, mongo_url: str, keys_dir: Path) -> dict[str, str]:
    """Settings every service starts with."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ELYSIUM_")}
    return {**clean, "ELYSIUM_REDIS_URL": redis_url, "ELYSIUM_MONGO_URL": mongo_url,
            "ELYSIUM_JOIN_PUBLIC_KEY_FILE": str(keys_dir / "join.pub"),
            "ELYSIUM_JOIN_PRIVATE_KEY_FILE": str(keys_dir / "join.key"),
            "ELYSIUM_PLAYER_PUBLIC_KEY_FILE": str(keys_dir / "player.pub"),
            "ELYSIUM_PLAYER_PRIVATE_KEY_FILE": str(keys_dir / "player.key"),
            "ELYSIUM_COMMERCE_DB": "start_failures", "ELYSIUM_MATCHMAKER_DB": "start_failures"}


@pytest.fixture
def shared_port() -> Iterator[int]:
    """A port another server listens on with SO_REUSEPORT (another ``--workers`` service, a proxy)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize("argv", [["matchmaker", "--workers", "2"], ["spectator", "--workers", "2"],
                                  ["matchmaker"], ["commerce"], ["gameserver"], ["spectator"]])
def test_a_port_in_use_with_so_reuseport_is_refused(argv: list[str], shared_port: int,
                                                    env: dict[str, str]) -> None:
    done = elysium(*argv, "--port", str(shared_port), env=env)
    assert done.returncode == 1 and done.stdout == "", (done.stdout, done.stderr)
    assert plain_lines(done.stderr) == [f"elysium {argv[0]}: cannot start: cannot listen on 127.0.0.1:{shared_port}: "
                                        f"address already in use"], done.stderr


def test_a_worker_with_bad_settings_is_one_line_with_the_settings_status(env: dict[str, str]) -> None:
    began = time.monotonic()
    done = elysium("matchmaker", "--port", "0", "--workers", "2",
                   env={**env, "ELYSIUM_MATCHMAKER_MODES_FILE": str(ROOT / "no-such-modes.json")})
    assert done.returncode == 2 and done.stdout == "", done.stderr
    said = plain_lines(done.stderr)
    assert len(said) == 1 and said[0].startswith("elysium matchmaker: configuration error: "
                                                 "ELYSIUM_MATCHMAKER_MODES_FILE"), said
    assert time.monotonic() - began < 30  # the supervisor saw the worker exit; it did not wait out its timeout


@pytest.mark.parametrize("argv", [["gameserver"], ["matchmaker"], ["spectator", "--workers", "2"]])
def test_a_host_that_does_not_resolve_is_named(argv: list[str], env: dict[str, str]) -> None:
    done = elysium(*argv, "--host", "no-such-host.invalid", "--port", "0", env=env)
    assert done.returncode == 1 and done.stdout == "", done.stderr
    said = plain_lines(done.stderr)
    assert len(said) == 1 and said[0].startswith(f"elysium {argv[0]}: cannot start: cannot resolve host "
                                                 f"no-such-host.invalid: "), said


@pytest.mark.parametrize("argv", [["gameserver"], ["matchmaker"], ["commerce"], ["spectator"],
                                  ["spectator", "--workers", "2"]])
def test_an_unforeseen_error_at_start_is_one_line_not_a_traceback(argv: list[str], env: dict[str, str]) -> None:
    """A Redis URL the client library refuses when the service is made: whatever reports it, one line."""
    done = elysium(*argv, "--port", "0", env={**env, "ELYSIUM_REDIS_URL": "http://127.0.0.1:1"})
    assert done.returncode != 0 and done.stdout == "", done.stderr
    said = plain_lines(done.stderr)
    assert len(said) == 1 and said[0].startswith(f"elysium {argv[0]}: "), said
    assert "Traceback" not in said[0]
