"""Commerce payments benchmark: paid payments per second, beside store purchases in the same run.

    .venv/bin/python benchmarks/commerce_payments.py [--buyers 50] [--seconds 8] [--rounds 2]

Starts its own Redis and embedded MongoDB server (or uses ELYSIUM_REDIS_URL and
ELYSIUM_MONGO_URL) and an ``elysium commerce`` child process with the sandbox provider. Three
kinds of run, interleaved round by round, each buyer with its own account:

* ``purchase``: ``POST /v1/purchases`` (as benchmarks/commerce_purchases.py), the reference;
* ``payment``: one whole paid payment: ``POST /v1/payments/checkout`` for a pack, then the
  ``checkout.session.completed`` event signed here with the webhook secret (Stripe's scheme)
  and posted to ``/v1/payments/webhook``, which verifies it and credits the wallet;
* ``redelivery``: an event already applied posted again (what a Stripe retry costs: verified,
  found, answered ``duplicate``).

Results print as one JSON line; docs/benchmarks.md (Commerce: payments) records them.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import aiohttp
from commerce_purchases import CpuMeter, drive, merge, service_run, setup_accounts

from elysium import procs, tokens

SECRET = "whsec_bench_" + uuid.uuid4().hex
PACK = "premium-100"


def signed(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event, separators=(",", ":")).encode()
    t = int(time.time())
    mac = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Stripe-Signature": f"t={t},v1={mac}", "Content-Type": "application/json"}


def completed(payment: dict[str, Any], account: str) -> dict[str, Any]:
    return {"id": f"evt_{uuid.uuid4().hex}", "object": "event", "type": "checkout.session.completed",
            "created": int(time.time()),
            "data": {"object": {"id": payment["payment_id"], "object": "checkout.session",
                                "amount_total": payment["price"], "currency": payment["currency"].lower(),
                                "client_reference_id": account, "metadata": {"player": account, "pack": PACK},
                                "payment_intent": f"pi_{payment['payment_id'][-24:]}", "payment_status": "paid"}}}


async def payment_run(url: str, toks: list[str], accounts: list[str], buyers: int, seconds: float,
                      applied: list[dict[str, Any]]) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    async with aiohttp.ClientSession(base_url=url, connector=aiohttp.TCPConnector(limit=buyers)) as http:
        async def pay(b: int, n: int) -> bool:
            async with http.post("/v1/payments/checkout", json={"pack_id": PACK},
                                 headers={"Authorization": f"Bearer {toks[b]}",
                                          "Idempotency-Key": f"{run}-{b}-{n}"}) as resp:
                if resp.status != 201:
                    return False
                payment = await resp.json()
            event = completed(payment, accounts[b])
            body, headers = signed(event)
            async with http.post("/v1/payments/webhook", data=body, headers=headers) as resp:
                ok = resp.status == 200 and (await resp.json())["outcome"] == "credited"
            if ok and len(applied) < 1000:
                applied.append(event)
            return ok

        return await drive(buyers, seconds, pay)


async def redelivery_run(url: str, buyers: int, seconds: float, applied: list[dict[str, Any]]) -> dict[str, Any]:
    async with aiohttp.ClientSession(base_url=url, connector=aiohttp.TCPConnector(limit=buyers)) as http:
        async def again(b: int, n: int) -> bool:
            body, headers = signed(applied[(b * 7919 + n) % len(applied)])
            async with http.post("/v1/payments/webhook", data=body, headers=headers) as resp:
                return resp.status == 200 and (await resp.json())["outcome"] == "duplicate"

        return await drive(buyers, seconds, again)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--buyers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each run")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of (purchase, payment, redelivery)")
    args = parser.parse_args()
    children: list[procs.Child] = []
    tmp = Path(tempfile.mkdtemp(prefix="payments-bench-"))
    try:
        redis_url = os.environ.get("ELYSIUM_REDIS_URL")
        if not redis_url:
            children.append(procs.start_redis())
            redis_url = children[-1].url
        mongo_url = os.environ.get("ELYSIUM_MONGO_URL")
        if not mongo_url:
            children.append(procs.start_mongo())
            mongo_url = children[-1].url
        for name in ("player", "service"):
            tokens.generate_keypair(tmp, name)
        port = procs.free_port()
        env = {**os.environ, "ELYSIUM_MONGO_URL": mongo_url, "ELYSIUM_REDIS_URL": redis_url,
               "ELYSIUM_COMMERCE_DB": f"bench_{uuid.uuid4().hex[:6]}",
               "ELYSIUM_PLAYER_PRIVATE_KEY_FILE": str(tmp / "player.key"),
               "ELYSIUM_SERVICE_PUBLIC_KEY_FILE": str(tmp / "service.pub"),
               "ELYSIUM_ARGON2_MEMORY_KIB": "1024", "ELYSIUM_ARGON2_TIME_COST": "1",
               "ELYSIUM_COMMERCE_REWARDS": "false", "ELYSIUM_LOG_LEVEL": "warning",
               "ELYSIUM_PAYMENTS_PROVIDER": "sandbox", "ELYSIUM_PAYMENTS_SANDBOX_SECRET": SECRET}
        proc = subprocess.Popen([sys.executable, "-m", "elysium", "commerce", "--port", str(port)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
        children.append(procs.Child("commerce", proc, f"http://127.0.0.1:{port}"))
        pids = {"client": os.getpid(), "commerce": proc.pid}
        if not os.environ.get("ELYSIUM_MONGO_URL"):
            pids["mongodb"] = next(c.proc.pid for c in children if c.name == "mongo")
        assert proc.stdout is not None
        json.loads(proc.stdout.readline())
        url = f"http://127.0.0.1:{port}"
        admin = tokens.Signer(tokens.load_private_key(path=str(tmp / "service.key")), "bench").issue(
            "bench", tokens.SERVICE_AUDIENCE, 3600, {"scope": "commerce:admin"})
        verifier = tokens.Verifier(tokens.load_private_key(path=str(tmp / "player.key")).public_key())

        async def run() -> dict[str, Any]:
            toks = await setup_accounts(url, admin, args.buyers)
            accounts = [str(verifier.verify(t, tokens.PLAYER_AUDIENCE)["sub"]) for t in toks]
            applied: list[dict[str, Any]] = []
            await payment_run(url, toks, accounts, args.buyers, 2.0, applied)  # warm-up
            runs: dict[str, list[dict[str, Any]]] = {"purchase": [], "payment": [], "redelivery": []}
            meter = CpuMeter(pids)

            async def measured(kind: str, job: Awaitable[dict[str, Any]]) -> None:
                before = meter.snapshot()
                result = await job
                result["cpu_ms"] = meter.per_purchase(before, meter.snapshot(), result["purchases"])
                runs[kind].append(result)

            for _ in range(args.rounds):
                await measured("purchase", service_run(url, toks, args.buyers, args.seconds))
                await measured("payment", payment_run(url, toks, accounts, args.buyers, args.seconds, applied))
                await measured("redelivery", redelivery_run(url, args.buyers, args.seconds, applied))
            out = {kind: merge(r) for kind, r in runs.items()}
            return {"rounds": args.rounds, "seconds_per_run": args.seconds, "buyers": args.buyers, **out,
                    "payment_vs_purchase": round(out["payment"]["per_s"] / out["purchase"]["per_s"], 3),
                    "redelivery_vs_purchase": round(out["redelivery"]["per_s"] / out["purchase"]["per_s"], 3)}

        import uvloop

        report = uvloop.run(run())
        print(json.dumps(report))
        return 0
    finally:
        for child in reversed(children):
            child.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
