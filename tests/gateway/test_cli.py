"""``elysium gateway`` as a process: the listening line, probes, SIGTERM, one line per bad setting,
and how ``elysium up`` declares it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from elysium import procs
from tests.gateway.servers import dead_url
from tests.listening import check_listening

ROOT = Path(__file__).parents[2]


def environment(**more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELYSIUM_")}
    env.update({"ELYSIUM_COMMERCE_URL": dead_url(), "ELYSIUM_MATCHMAKER_URL": dead_url(),
                "ELYSIUM_SPECTATOR_URL": dead_url(), "ELYSIUM_BUTLER_URL": dead_url()})
    env.update(more)
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "elysium", "gateway", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_runs_serves_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>client</title>")
    port = procs.free_port()
    proc = subprocess.Popen([sys.executable, "-m", "elysium", "gateway", "--port", str(port)], cwd=ROOT,
                            env=environment(ELYSIUM_GATEWAY_WEB_DIR=str(tmp_path)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = json.loads(proc.stdout.readline())
        check_listening(line, "gateway")
        assert line["port"] == port
        base = f"http://127.0.0.1:{port}"
        assert get(base + "/healthz")[0] == 200
        assert get(base + "/readyz")[0] == 503  # commerce is not there
        status, body = get(base + "/api/gateway/v1/status")
        assert status == 200 and json.loads(body)["services"]["commerce"] == {"ready": False}
        assert get(base + "/arena") == (200, b"<!doctype html><title>client</title>")
        status, body = get(base + "/api/commerce/v1/me")
        assert status == 502 and json.loads(body)["code"] == "upstream-unavailable"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("variable", ["ELYSIUM_COMMERCE_URL", "ELYSIUM_MATCHMAKER_URL", "ELYSIUM_SPECTATOR_URL",
                                      "ELYSIUM_BUTLER_URL"])
def test_a_missing_service_url_is_one_line_naming_it(variable: str) -> None:
    env = environment()
    del env[variable]
    done = run(env)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert done.stderr.startswith(f"elysium gateway: configuration error: {variable}: is not set")


@pytest.mark.parametrize(("variable", "value"), [
    ("ELYSIUM_COMMERCE_URL", "commerce:7380"), ("ELYSIUM_BUTLER_URL", "http://butler:port"),
    ("ELYSIUM_SPECTATOR_URL", "ws://relay:7370"), ("ELYSIUM_MATCHMAKER_URL", "http://user:pw@mm:7360"),
    ("ELYSIUM_GRAFANA_URL", "grafana"), ("ELYSIUM_GATEWAY_PORT", "70000"), ("ELYSIUM_GATEWAY_PORT", "web"),
    ("ELYSIUM_GATEWAY_MAX_BODY_BYTES", "10"), ("ELYSIUM_GATEWAY_RESPONSE_TIMEOUT_S", "0"),
    ("ELYSIUM_GATEWAY_GRAPHIQL", "perhaps")])
def test_a_bad_value_is_one_line_naming_it(variable: str, value: str) -> None:
    done = run(environment(**{variable: value}))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert done.stderr.startswith(f"elysium gateway: configuration error: {variable}: ")


def test_a_web_dir_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    file = tmp_path / "dist"
    file.write_text("not a folder")
    done = run(environment(ELYSIUM_GATEWAY_WEB_DIR=str(file)))
    assert done.returncode == 2
    assert done.stderr.startswith("elysium gateway: configuration error: ELYSIUM_GATEWAY_WEB_DIR: ")


def test_a_busy_port_is_one_line() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = run(environment(), "--port", str(taken.getsockname()[1]))
    assert done.returncode == 1
    assert "elysium gateway: cannot start: cannot listen on" in done.stderr


def test_elysium_up_starts_it_last_with_the_stacks_urls() -> None:
    from elysium.up import StackContext, StackService, _collect
    from gateway.cli import STACK_SERVICES

    services = _collect()
    assert services[-1].name == "gateway" and services[-1].port == 7400
    assert all(s.order < services[-1].order for s in services[:-1])
    gw = STACK_SERVICES[0]
    assert isinstance(gw, StackService)
    ctx = StackContext(Path("."), {"ELYSIUM_GATEWAY_WEB_DIR": "/somewhere/built",
                                   "ELYSIUM_BUTLER_URL": "http://butler.elsewhere:7390"},
                       urls={"commerce": "http://127.0.0.1:7380", "matchmaker": "http://127.0.0.1:7360",
                             "spectator": "http://127.0.0.1:7370", "butler": "http://127.0.0.1:7390",
                             "gateway": "http://127.0.0.1:7400"})
    assert gw.env is not None and gw.after_start is not None
    assert gw.env(ctx) == {"ELYSIUM_COMMERCE_URL": "http://127.0.0.1:7380",
                           "ELYSIUM_MATCHMAKER_URL": "http://127.0.0.1:7360",
                           "ELYSIUM_SPECTATOR_URL": "http://127.0.0.1:7370",
                           "ELYSIUM_BUTLER_URL": "http://butler.elsewhere:7390"}  # the caller's own wins
    assert gw.after_start(ctx) == ["web          http://127.0.0.1:7400/"]
