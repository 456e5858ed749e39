"""Commerce killed mid-storm and started again: service resumes quickly and the books still balance."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from elysium import procs
from tests.commerce.test_cli import _env

RESUME_WITHIN_S = 30.0


def _start(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "elysium", "commerce", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


async def _listening(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    line = await asyncio.to_thread(proc.stdout.readline)
    assert json.loads(line)["event"] == "listening", line


async def _buy(http: aiohttp.ClientSession, token: str, key: str) -> int | str:
    try:
        async with http.post("/v1/purchases", json={"item_id": "health-potion", "currency": "soft"},
                             headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key}) as r:
            await r.read()
            return r.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        return type(exc).__name__


async def test_killed_mid_storm_commerce_serves_again_within_30_s(own_mongo: procs.Child, mongo_db_name: str,
                                                                   redis_url: str, keys_dir: Path) -> None:
    env = _env(own_mongo.url, mongo_db_name, redis_url, keys_dir)
    port = procs.free_port()
    first = _start(env, port)
    second: subprocess.Popen[str] | None = None
    base = f"http://127.0.0.1:{port}"
    try:
        await _listening(first)
        async with aiohttp.ClientSession(base, timeout=aiohttp.ClientTimeout(total=60)) as http:
            tokens = []
            for n in range(6):
                async with http.post("/v1/accounts", json={"username": f"storm{n}", "password": "storm password"}) as r:
                    assert r.status == 201, await r.text()
                    tokens.append((await r.json())["access_token"])
            started = 0
            answered: list[int | str] = []

            async def shopper(w: int) -> None:
                nonlocal started
                for i in range(40):
                    started += 1
                    answered.append(await _buy(http, tokens[w % len(tokens)], f"s{w}-{i}"))

            storm = [asyncio.create_task(shopper(w)) for w in range(24)]
            deadline = time.monotonic() + 30
            while answered.count(201) < 20 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert answered.count(201) >= 20, answered
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            await asyncio.gather(*storm)

            restarted = time.monotonic()
            second = _start(env, port)
            await _listening(second)
            # Every shopper of the storm buys again, whichever wallet the killed process left mid-transaction.
            waiting = set(range(len(tokens)))
            n = 0
            last: dict[int, int | str] = {}
            while waiting and time.monotonic() - restarted < RESUME_WITHIN_S:
                n += 1
                for w in sorted(waiting):
                    last[w] = await asyncio.wait_for(_buy(http, tokens[w], f"after-{w}-{n}"), RESUME_WITHIN_S)
                    if last[w] == 201:
                        waiting.discard(w)
            took = time.monotonic() - restarted
            assert not waiting, (f"players {sorted(waiting)} could not buy {took:.1f} s after the restart", last)
        second.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(second.wait, 30) == 0
        done = subprocess.run([sys.executable, "-m", "elysium", "audit"], capture_output=True, text=True,
                              timeout=60, env=env)
        assert done.returncode == 0, done.stderr
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()


async def test_sigterm_exits_within_the_drain_time_while_mongo_does_not_answer(
        own_mongo: procs.Child, mongo_db_name: str, redis_url: str, keys_dir: Path) -> None:
    drain_s = 3.0
    env = {**_env(own_mongo.url, mongo_db_name, redis_url, keys_dir),
           "ELYSIUM_COMMERCE_DRAIN_TIMEOUT_S": str(drain_s), "ELYSIUM_COMMERCE_MONGO_TIMEOUT_S": "60"}
    port = procs.free_port()
    proc = _start(env, port)
    try:
        await _listening(proc)
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            async with http.post("/v1/accounts", json={"username": "stuck", "password": "stuck password"}) as r:
                token = (await r.json())["access_token"]
            os.kill(own_mongo.proc.pid, signal.SIGSTOP)
            stuck = [asyncio.create_task(_buy(http, token, f"stuck-{n}")) for n in range(5)]
            await asyncio.sleep(0.5)  # the purchases reach commerce and wait on the database
            assert not any(t.done() for t in stuck)
            stopped = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(proc.wait, 60)
            took = time.monotonic() - stopped
            await asyncio.gather(*stuck)
        assert took < drain_s + 1.5, f"exited {took:.1f} s after SIGTERM (drain time {drain_s} s)"
        assert code == 0
    finally:
        os.kill(own_mongo.proc.pid, signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
