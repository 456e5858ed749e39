"""``elysium commerce`` as a real process: config errors, listening line, health, admin token, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from elysium import procs
from tests.listening import check_listening


def _env(mongo_url: str, db: str, redis_url: str, keys_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELYSIUM_")}
    env.update(ELYSIUM_MONGO_URL=mongo_url, ELYSIUM_COMMERCE_DB=db, ELYSIUM_REDIS_URL=redis_url,
               ELYSIUM_PLAYER_PRIVATE_KEY_FILE=str(keys_dir / "player.key"),
               ELYSIUM_SERVICE_PUBLIC_KEY_FILE=str(keys_dir / "service.pub"),
               ELYSIUM_SERVICE_PRIVATE_KEY_FILE=str(keys_dir / "service.key"),
               ELYSIUM_ARGON2_MEMORY_KIB="1024", ELYSIUM_ARGON2_TIME_COST="1")
    return env


def _get(url: str, method: str = "GET", body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_missing_settings_are_named(mongo_url: str, redis_url: str, keys_dir: Path) -> None:
    env = _env(mongo_url, "x", redis_url, keys_dir)
    for variable in ("ELYSIUM_MONGO_URL", "ELYSIUM_REDIS_URL", "ELYSIUM_PLAYER_PRIVATE_KEY_FILE"):
        broken = {k: v for k, v in env.items() if k != variable}
        done = subprocess.run([sys.executable, "-m", "elysium", "commerce"], env=broken, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 2 and variable in done.stderr, done.stderr
    done = subprocess.run([sys.executable, "-m", "elysium", "commerce"], capture_output=True, text=True, timeout=60,
                          env={**env, "ELYSIUM_COMMERCE_CATALOG_FILE": str(keys_dir / "join.pub")})
    assert done.returncode == 2 and "ELYSIUM_COMMERCE_CATALOG_FILE" in done.stderr


def test_an_unreachable_database_at_start_is_one_line_and_status_1(redis_url: str, keys_dir: Path) -> None:
    port = procs.free_port()
    env = _env(f"mongodb://127.0.0.1:{procs.free_port()}/?directConnection=true", "x", redis_url, keys_dir)
    done = subprocess.run([sys.executable, "-m", "elysium", "commerce", "--port", str(port)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    said = [line for line in done.stderr.splitlines() if not line.startswith("{")]
    assert len(said) == 1 and said[0].startswith("elysium commerce: cannot start: ServerSelectionTimeoutError"), said


def test_the_service_runs_reports_health_and_drains_on_sigterm(mongo_url: str, mongo_db_name: str, redis_url: str,
                                                               keys_dir: Path) -> None:
    env = _env(mongo_url, mongo_db_name, redis_url, keys_dir)
    port = procs.free_port()
    proc = subprocess.Popen([sys.executable, "-m", "elysium", "commerce", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = json.loads(proc.stdout.readline())
        check_listening(line, "commerce")
        assert line["port"] == port and line["url"] == f"http://127.0.0.1:{port}"
        base = f"http://127.0.0.1:{port}"
        assert _get(base + "/healthz")[0] == 200
        status, body = _get(base + "/readyz")
        assert status == 200 and json.loads(body)["ready"] is True
        status, body = _get(base + "/metrics")
        assert status == 200 and b"elysium_commerce_http_requests_total" in body
        token = subprocess.run([sys.executable, "-m", "elysium", "commerce", "admin-token"], env=env,
                               capture_output=True, text=True, timeout=60, check=True).stdout.strip()
        item = {"name": "Cli Cape", "rarity": "rare", "stackable": False, "tradeable": True, "price": {"soft": 5}}
        status, body = _get(base + "/v1/admin/catalog/cli-cape", "PUT", json.dumps(item).encode(),
                            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        assert status == 200, body
        status, body = _get(base + "/v1/catalog/cli-cape")
        assert status == 200 and json.loads(body)["name"] == "Cli Cape"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        logs = proc.stderr.read() if proc.stderr else ""
        records = [json.loads(x) for x in logs.splitlines() if x.startswith("{")]
        assert any(r["msg"] == "commerce listening" for r in records)
        assert mongo_url not in logs  # the URL is a secret setting and is masked
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_sigterm_lets_purchases_in_flight_finish(mongo_url: str, mongo_db_name: str, redis_url: str,
                                                       keys_dir: Path) -> None:
    import asyncio

    import aiohttp

    env = _env(mongo_url, mongo_db_name, redis_url, keys_dir)
    port = procs.free_port()
    proc = subprocess.Popen([sys.executable, "-m", "elysium", "commerce", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        await asyncio.to_thread(proc.stdout.readline)
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession(base) as http:
            async with http.post("/v1/accounts", json={"username": "drainer", "password": "drain password"}) as r:
                token = (await r.json())["access_token"]

            async def buy(n: int) -> int | str:
                try:
                    async with http.post("/v1/purchases", json={"item_id": "health-potion", "currency": "soft"},
                                         headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"d{n}"}) as r:
                        await r.read()
                        return r.status
                except aiohttp.ClientError as exc:
                    return type(exc).__name__

            tasks = [asyncio.create_task(buy(n)) for n in range(15)]
            await asyncio.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            outcomes = await asyncio.gather(*tasks)
        assert await asyncio.to_thread(proc.wait, 30) == 0
        # Every request either completed or was never taken; none failed half-way.
        assert all(o == 201 or isinstance(o, str) for o in outcomes), outcomes
        assert 201 in outcomes
        done = subprocess.run([sys.executable, "-m", "elysium", "audit", "--json"], capture_output=True, text=True,
                              timeout=60, env={**env, "ELYSIUM_COMMERCE_DB": mongo_db_name})
        report = json.loads(done.stdout)
        assert report["ok"] and report["counts"]["items"] == outcomes.count(201)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_bad_mongo_uri_is_one_line_naming_the_setting(redis_url: str, keys_dir: Path) -> None:
    secret = "s3cr3t-pw"
    for bad in ("http://x", "mongodb://", f"mongodb://user:{secret}@a:b:c/", "mongodb://h:99999/",
                "mongodb://h/?noSuchOption=1", "mongodb://h/?tls=maybe", "mongodb+srv://h:27017/"):
        env = _env(bad, "x", redis_url, keys_dir)
        for command in (["commerce", "--port", str(procs.free_port())], ["audit"]):
            done = subprocess.run([sys.executable, "-m", "elysium", *command], env=env, capture_output=True,
                                  text=True, timeout=60)
            lines = done.stderr.splitlines()
            assert done.returncode == 2 and done.stdout == "", (bad, done)
            assert len(lines) == 1 and lines[0].startswith(f"elysium {command[0]}: configuration error: "
                                                           "ELYSIUM_MONGO_URL: "), (bad, lines)
            assert secret not in done.stderr


def _refused_in_one_line(env: dict[str, str], variable: str, bad: str) -> None:
    done = subprocess.run([sys.executable, "-m", "elysium", "commerce", "--port", str(procs.free_port())],
                          env={**env, variable: bad}, capture_output=True, text=True, timeout=60)
    lines = done.stderr.splitlines()
    assert done.returncode == 2 and done.stdout == "", (bad, done)
    assert len(lines) == 1 and lines[0].startswith(f"elysium commerce: configuration error: {variable}: "), \
        (bad, lines)


def test_a_bad_lease_period_is_one_line_naming_the_setting(mongo_url: str, redis_url: str, keys_dir: Path) -> None:
    for bad in ("0", "-5", "ten", "301"):
        _refused_in_one_line(_env(mongo_url, "x", redis_url, keys_dir), "ELYSIUM_COMMERCE_LEASE_S", bad)


def test_bad_wallet_linking_settings_are_one_line_naming_the_setting(mongo_url: str, redis_url: str,
                                                                    keys_dir: Path) -> None:
    env = _env(mongo_url, "x", redis_url, keys_dir)
    for variable, bad in (("ELYSIUM_SIWE_DOMAIN", "https://play.example.com"), ("ELYSIUM_SIWE_DOMAIN", "a b"),
                          ("ELYSIUM_SIWE_DOMAIN", "user@play.example.com"), ("ELYSIUM_SIWE_DOMAIN", "host:port"),
                          ("ELYSIUM_CHAIN_ID", "0"), ("ELYSIUM_CHAIN_ID", "0x1"),
                          ("ELYSIUM_SIWE_CHALLENGE_TTL_S", "5"), ("ELYSIUM_SIWE_CHALLENGE_TTL_S", "soon")):
        _refused_in_one_line(env, variable, bad)


def test_the_embedded_chain_without_its_extra_is_one_line_naming_it() -> None:
    # As in the production image, which leaves the embedded extra out: eth-tester cannot be imported.
    code = "import sys; sys.modules['eth_tester'] = None; from elysium.cli import main; sys.exit(main(['chain']))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "'embedded' extra" in lines[0] and "ELYSIUM_CHAIN_URL" in lines[0], done.stderr
