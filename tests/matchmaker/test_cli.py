"""``elysium matchmaker`` as a process: listening line, health, drain on SIGTERM, config errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from elysium import procs
from tests.listening import check_listening

ROOT = Path(__file__).parents[2]


def test_runs_serves_health_and_exits_cleanly_on_sigterm(redis_url: str, mongo_url: str, keys_dir: Path,
                                                          player_token: Any) -> None:
    port = procs.free_port()
    env = {**os.environ, "ELYSIUM_REDIS_URL": redis_url, "ELYSIUM_MONGO_URL": mongo_url,
           "ELYSIUM_MATCHMAKER_DB": "cli_test", "ELYSIUM_PLAYER_PUBLIC_KEY_FILE": str(keys_dir / "player.pub"),
           "ELYSIUM_JOIN_PRIVATE_KEY_FILE": str(keys_dir / "join.key")}
    proc = subprocess.Popen([sys.executable, "-m", "elysium", "matchmaker", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = json.loads(proc.stdout.readline())
        check_listening(line, "matchmaker")
        assert line["port"] == port and line["host"] == "127.0.0.1"
        for path in ("/healthz", "/readyz", "/v1/queues"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
                assert resp.status == 200, path
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            assert b"elysium_matchmaker_pass_seconds" in resp.read()
        # A player follows a ticket's events while the process is told to stop.
        headers = {"Authorization": f"Bearer {player_token('waiting')}", "Content-Type": "application/json"}
        body = json.dumps({"mode": "arena", "regions": {"local": 10}}).encode()
        with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/v1/tickets", data=body,
                                                           headers=headers), timeout=5) as resp:
            ticket = json.loads(resp.read())
        stream = urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/tickets/{ticket['id']}/events", headers=headers), timeout=10)
        assert stream.readline() == b"event: queued\n"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        rest = stream.read()  # the stream was ended by the server, not cut by a timeout
        assert rest.startswith(b"data: ")
        stream.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_missing_configuration_names_the_variable() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELYSIUM_")}
    done = subprocess.run([sys.executable, "-m", "elysium", "matchmaker"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2
    assert "ELYSIUM_REDIS_URL" in done.stderr
