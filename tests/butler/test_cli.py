"""``elysium butler`` as a process: the listening line, probes, SIGTERM, and one line for each way
the start can fail."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from butler import sse, turns
from elysium import procs
from tests.butler.standin import Reply, StandIn, standin  # noqa: F401
from tests.butler.world import *  # noqa: F401,F403 - the world fixture and the fixtures it uses
from tests.butler.world import World, world  # noqa: F401
from tests.listening import check_listening
from tests.waiting import until

ROOT = Path(__file__).parents[2]


def environment(mongo_url: str, redis_url: str, keys_dir: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELYSIUM_", "OPENAI_"))}
    env.update({"ELYSIUM_MONGO_URL": mongo_url, "ELYSIUM_REDIS_URL": redis_url, "ELYSIUM_BUTLER_DB": "cli_test",
                "ELYSIUM_PLAYER_PUBLIC_KEY_FILE": str(keys_dir / "player.pub"),
                "ELYSIUM_BUTLER_COMMERCE_URL": "http://127.0.0.1:9", "ELYSIUM_BUTLER_MATCHMAKER_URL": "http://127.0.0.1:9"})
    env.update(more)
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "elysium", "butler", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_runs_serves_its_probes_and_exits_cleanly_on_sigterm(mongo_url: str, redis_url: str, keys_dir: Path) -> None:
    port = procs.free_port()
    proc = subprocess.Popen([sys.executable, "-m", "elysium", "butler", "--port", str(port)], cwd=ROOT,
                            env=environment(mongo_url, redis_url, keys_dir, OPENAI_API_KEY="sk-never-logged"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = json.loads(proc.stdout.readline())
        check_listening(line, "butler")
        assert line["port"] == port
        for path in ("/healthz", "/readyz", "/v1/openapi.json"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
                assert resp.status == 200, path
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as resp:
            assert json.loads(resp.read())["engine"] == "model"  # a key is set
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        out = proc.stdout.read() + (proc.stderr.read() if proc.stderr else "")
        assert "sk-never-logged" not in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(("unset", "variable"), [("ELYSIUM_MONGO_URL", "ELYSIUM_MONGO_URL"),
                                                 ("ELYSIUM_REDIS_URL", "ELYSIUM_REDIS_URL"),
                                                 ("ELYSIUM_BUTLER_COMMERCE_URL", "ELYSIUM_BUTLER_COMMERCE_URL"),
                                                 ("ELYSIUM_PLAYER_PUBLIC_KEY_FILE", "ELYSIUM_PLAYER_PUBLIC_KEY_FILE")])
def test_a_missing_variable_is_one_line_naming_it(mongo_url: str, redis_url: str, keys_dir: Path, unset: str,
                                                  variable: str) -> None:
    env = environment(mongo_url, redis_url, keys_dir)
    del env[unset]
    done = run(env)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert done.stderr.startswith(f"elysium butler: configuration error: {variable}: is not set")


@pytest.mark.parametrize(("variable", "value"), [("ELYSIUM_BUTLER_COMMERCE_URL", "commerce:7380"),
                                                 ("ELYSIUM_BUTLER_MATCHMAKER_URL", "http://mm:port"),
                                                 ("ELYSIUM_MONGO_URL", "mysql://db"),
                                                 ("ELYSIUM_REDIS_URL", "http://redis"),
                                                 ("OPENAI_BASE_URL", "not a url")])
def test_a_malformed_url_is_one_line_naming_it(mongo_url: str, redis_url: str, keys_dir: Path, variable: str,
                                               value: str) -> None:
    done = run(environment(mongo_url, redis_url, keys_dir, **{variable: value}))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert done.stderr.startswith(f"elysium butler: configuration error: {variable}: ")


def test_a_bad_player_key_file_is_one_line(mongo_url: str, redis_url: str, keys_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "player.pub"
    bad.write_text("not a key")
    done = run(environment(mongo_url, redis_url, keys_dir, ELYSIUM_PLAYER_PUBLIC_KEY_FILE=str(bad)))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert done.stderr.startswith("elysium butler: key error: ")
    missing = run(environment(mongo_url, redis_url, keys_dir,
                              ELYSIUM_PLAYER_PUBLIC_KEY_FILE=str(tmp_path / "absent.pub")))
    assert missing.returncode == 2 and missing.stderr.startswith("elysium butler: key error: ")


def test_an_unreadable_api_key_file_is_one_line(mongo_url: str, redis_url: str, keys_dir: Path,
                                                tmp_path: Path) -> None:
    done = run(environment(mongo_url, redis_url, keys_dir,
                           ELYSIUM_BUTLER_OPENAI_API_KEY_FILE=str(tmp_path / "absent.key")))
    assert done.returncode == 2
    assert done.stderr.startswith("elysium butler: configuration error: ELYSIUM_BUTLER_OPENAI_API_KEY_FILE: cannot "
                                  "read")


def test_an_unreachable_mongodb_stops_the_start_with_one_line(redis_url: str, keys_dir: Path) -> None:
    dead = f"mongodb://127.0.0.1:{procs.free_port()}"
    done = run(environment(dead, redis_url, keys_dir, ELYSIUM_BUTLER_MONGO_TIMEOUT_S="0.5"))
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert done.stderr.startswith("elysium butler: cannot start: ")


def test_a_taken_port_is_one_line(mongo_url: str, redis_url: str, keys_dir: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        done = run(environment(mongo_url, redis_url, keys_dir), "--port", str(port))
    assert done.returncode == 1
    said = [line for line in done.stderr.splitlines() if not line.startswith("{")]  # JSON lines are the log
    assert said == [f"elysium butler: cannot start: cannot listen on 127.0.0.1:{port}: address already in use"]


def test_the_stack_declares_the_butler_with_its_commerce_and_matchmaker(tmp_path: Path) -> None:
    from butler.cli import STACK_SERVICES
    from elysium.up import StackContext, StackService

    (svc,) = STACK_SERVICES
    assert isinstance(svc, StackService) and svc.name == "butler" and svc.port == 7390
    assert set(svc.needs) == {"mongo", "redis"}
    ctx = StackContext(tmp_path, {}, urls={"commerce": "http://127.0.0.1:7380", "matchmaker": "http://127.0.0.1:7360"})
    assert svc.env is not None and svc.env(ctx) == {"ELYSIUM_BUTLER_COMMERCE_URL": "http://127.0.0.1:7380",
                                                    "ELYSIUM_BUTLER_MATCHMAKER_URL": "http://127.0.0.1:7360"}
    chosen = StackContext(tmp_path, {"ELYSIUM_BUTLER_COMMERCE_URL": "http://shop:80"}, urls=ctx.urls)
    assert svc.env(chosen)["ELYSIUM_BUTLER_COMMERCE_URL"] == "http://shop:80"
    assert svc.after_start is not None
    assert "offline" in svc.after_start(ctx)[0]
    assert "model" in svc.after_start(StackContext(tmp_path, {"OPENAI_API_KEY": "sk"}))[0]


async def test_elysium_up_starts_the_butler_on_the_stack_offline(tmp_path: Path) -> None:
    """The stack's butler reaches its commerce: a player registered there chats, on the offline engine."""
    import aiohttp

    from butler import sse
    from tests.elysium.test_up import start_up

    proc, services = start_up(tmp_path, "--bots", "0", env={"OPENAI_API_KEY": ""})  # empty: no model
    try:
        assert proc.stdout is not None
        butler, commerce = services["butler"], services["commerce"]
        async with aiohttp.ClientSession() as s:
            async with s.get(butler + "/readyz") as r:
                assert r.status == 200 and (await r.json())["engine"] == "offline"
            async with s.post(commerce + "/v1/accounts", json={"username": "upchat", "password": "correct horse "
                                                               "battery"}) as r:
                assert r.status == 201, await r.text()
                token = (await r.json())["access_token"]
            async with s.post(butler + "/v1/chat", json={"message": "hello"},
                              headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == 200, await r.text()
                events = sse.parse(await r.read())
        assert events[0][0] == "conversation" and events[-1][0] == "done"
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_sigterm_lets_a_chat_in_flight_finish_and_refuses_new_ones(
        world: World, standin: StandIn, mongo_url: str, redis_url: str, keys_dir: Path) -> None:  # noqa: F811
    port = procs.free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "elysium", "butler", "--port", str(port)], cwd=ROOT,
        env=environment(mongo_url, redis_url, keys_dir, ELYSIUM_BUTLER_COMMERCE_URL=world.commerce_url,
                        ELYSIUM_BUTLER_MATCHMAKER_URL=world.matchmaker_url, OPENAI_API_KEY=standin.api_key,
                        OPENAI_BASE_URL=standin.url, ELYSIUM_BUTLER_DRAIN_TIMEOUT_S="20"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    release = asyncio.Event()
    standin.script(Reply.text("Good evening, how may I help?", hold=release))
    alice = await world.player()
    base = f"http://127.0.0.1:{port}"
    try:
        assert proc.stdout is not None
        check_listening(json.loads(await asyncio.to_thread(proc.stdout.readline)), "butler")
        async with aiohttp.ClientSession() as s:
            async with s.post(f"{base}/v1/chat", json={"message": "hello"}, headers=alice["headers"]) as stream:
                assert stream.status == 200
                await until(lambda: standin.holding == 1, what="the model's answer held mid-stream")
                proc.send_signal(signal.SIGTERM)

                async def draining() -> bool:  # the signal is handled by the process in its own time
                    try:
                        async with s.get(f"{base}/readyz") as ready:
                            return ready.status == 503
                    except aiohttp.ClientConnectionError:
                        return True  # the listener is already closed

                await until(draining, what="the butler draining")
                try:
                    async with s.post(f"{base}/v1/chat", json={"message": "again"}, headers=alice["headers"]) as late:
                        assert late.status == 503 and (await late.json())["code"] == "draining"
                except aiohttp.ClientConnectionError:
                    pass  # the listener is already closed: no new chat either
                assert proc.poll() is None  # still streaming the chat in flight
                release.set()
                events = sse.parse(await stream.read())
        assert events[-1][0] == turns.DONE and events[-1][1]["message"] == "Good evening, how may I help?"
        assert await asyncio.to_thread(proc.wait, 30) == 0
        assert len(standin.requests) == 1
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
