"""Butler benchmark: chat turns per second, time to first streamed byte and the butler's own CPU
per turn, against a stand-in model that answers at once.

    .venv/bin/python benchmarks/butler_chat.py [--players 16] [--seconds 6] [--warmup 1.5]
                                               [--turns-per-conversation 4]

Starts its own Redis and embedded MongoDB server (or uses ELYSIUM_REDIS_URL and
ELYSIUM_MONGO_URL), then, each its own process: ``elysium commerce``, ``elysium matchmaker``,
the chat-completions stand-in of the butler's tests (``tests/butler/standin.py``, the real
protocol, streamed, answering every request at once) and two ``elysium butler`` processes
(``create_app`` as deployed): one on the model engine pointed at the stand-in
(``OPENAI_BASE_URL``), one on the offline engine (no key). ``--players`` accounts are
registered with commerce, each with its own token, and the butler's chat limit is raised
(``ELYSIUM_BUTLER_CHAT_LIMIT``) so no turn is refused for rate. Each player sends a chat, reads
its whole server-sent-event stream over real HTTP (aiohttp), and sends the next; every
``--turns-per-conversation`` turns it begins a new conversation. Four runs:

* ``model, text``: the stand-in streams a short reply (one model call);
* ``model, get_wallet``: the stand-in asks for ``get_wallet``, the butler reads commerce's
  ``GET /v1/me/wallet`` as the player, the stand-in then streams the reply (two model calls);
* ``offline, text`` and ``offline, get_wallet``: the same two turns on the offline engine
  (a greeting answered with the help text; "how much gold" read from commerce).

Measured client side: turns per second, time to the first streamed byte (the stream's first
line, the ``conversation`` event) and to the first ``text`` event, and the whole turn, p50
and p99. The butler's own cost is its process's CPU time (user + system, from ``/proc``)
over the run divided by the turns: separable because the stand-in, commerce, the databases
and this client are other processes, whose CPU per turn is printed beside it. Prints one
table and one JSON line; docs/benchmarks.md (Butler) records them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from elysium import procs, tokens  # noqa: E402

TEXT_REPLY = "Happy to help! Your butler is here: ask about your wallet, items, the market or a match."
WALLET_REPLY = "You have the coins shown above in your wallet; shall I look at the market for you?"
MESSAGES = {"text": "hello there, what can you do?", "get_wallet": "how much gold is in my wallet?"}
SCENARIOS = (("model", "text"), ("model", "get_wallet"), ("offline", "text"), ("offline", "get_wallet"))
CHAT_LIMIT = 10_000  # per player per window: far above what a run sends, so no turn is refused for rate


# --- the stand-in model (its own process) ------------------------------------------------------


def run_standin(port: int) -> None:
    """Serve the tests' stand-in on ``port``, answering every request at once, forever.

    A request whose last message is a tool result gets the closing text; one asking about the
    wallet gets a ``get_wallet`` call; anything else a short text. Requests are not kept.
    """
    from aiohttp import web

    from tests.butler.standin import Reply, StandIn

    def decide(body: dict[str, Any]) -> Reply:
        last = body["messages"][-1]
        if last.get("role") == "tool":
            return Reply.text(WALLET_REPLY)
        if "wallet" in str(last.get("content", "")):
            return Reply.tool("get_wallet", {})
        return Reply.text(TEXT_REPLY)

    class Endless(deque[Reply]):
        """A script that never runs out: every request is answered by ``decide``."""

        def popleft(self) -> Reply:
            return Reply.using(decide)

        def __len__(self) -> int:
            return 1

    class Forgetful(list[Any]):
        def append(self, item: Any) -> None:  # a long run must not keep every request
            pass

    standin = StandIn(queue=Endless(), requests=Forgetful())
    web.run_app(standin.app(), host="127.0.0.1", port=port, print=None, access_log=None)


# --- processes ---------------------------------------------------------------------------------


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far; 0 when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(name: str, argv: list[str], env: dict[str, str], port: int, logs: Path) -> procs.Child:
    proc = procs.spawn(name, argv, env=env, log=logs / f"{name}.log")
    child = procs.Child(name, proc, f"http://127.0.0.1:{port}")
    try:
        procs.wait_for_port("127.0.0.1", port, 60.0, proc)
    except procs.ProcessError as exc:
        child.stop()
        tail = (logs / f"{name}.log").read_text(errors="replace")[-2000:]
        raise procs.ProcessError(f"{name} did not start: {exc}\n{tail}") from None
    return child


def service(name: str, port: int, env: dict[str, str], logs: Path) -> procs.Child:
    return start(name, [sys.executable, "-m", "elysium", name.split("-")[0], "--host", "127.0.0.1", "--port",
                        str(port)], env, port, logs)


async def ready(url: str, timeout_s: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"{url}/readyz") as resp:
                    if resp.status == 200:
                        body: dict[str, Any] = await resp.json()
                        return body
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise procs.ProcessError(f"{url} is not ready after {timeout_s:g} s")
            await asyncio.sleep(0.2)


# --- the players -------------------------------------------------------------------------------


@dataclass
class Run:
    engine: str
    kind: str
    turns: int = 0
    failed: int = 0
    tools_ok: int = 0
    ttfb: list[float] = field(default_factory=list)
    ttft: list[float] = field(default_factory=list)
    whole: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu_ms: dict[str, float] = field(default_factory=dict)


async def register(http: aiohttp.ClientSession, commerce: str, n: int) -> str:
    body = {"username": f"bench{n}{uuid.uuid4().hex[:8]}", "password": "benchmark password"}
    async with http.post(f"{commerce}/v1/accounts", json=body) as resp:
        answer = await resp.json()
        if resp.status != 201:
            raise AssertionError(answer)
    return str(answer["access_token"])


async def turn(http: aiohttp.ClientSession, url: str, token: str, message: str, conversation: str | None,
               run: Run | None) -> str | None:
    """One chat, its stream read to the end; the conversation id (None when the turn failed)."""
    body: dict[str, Any] = {"message": message}
    if conversation is not None:
        body["conversation_id"] = conversation
    t0 = time.perf_counter()
    first_byte = first_text = 0.0
    event = ""
    end = ""
    tools_ok = 0
    async with http.post(f"{url}/v1/chat", json=body, headers={"Authorization": f"Bearer {token}"}) as resp:
        if resp.status != 200:
            if run is not None:
                run.failed += 1
            await resp.read()
            return None
        async for raw in resp.content:
            if not first_byte:
                first_byte = time.perf_counter()
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
                if event == "text" and not first_text:
                    first_text = time.perf_counter()
                if event in ("done", "error"):
                    end = event
            elif line.startswith("data: "):
                if event == "conversation":
                    conversation = json.loads(line[6:])["id"]
                elif event == "tool_end" and json.loads(line[6:]).get("outcome") == "ok":
                    tools_ok += 1
    done = time.perf_counter()
    if run is not None:
        if end != "done":
            run.failed += 1
            return None
        run.turns += 1
        run.tools_ok += tools_ok
        run.ttfb.append(first_byte - t0)
        run.ttft.append((first_text or done) - t0)
        run.whole.append(done - t0)
    return conversation if end == "done" else None


async def players(http: aiohttp.ClientSession, url: str, toks: list[str], message: str, seconds: float,
                  per_conversation: int, run: Run | None) -> None:
    deadline = time.perf_counter() + seconds

    async def player(token: str) -> None:
        conversation: str | None = None
        n = 0
        while time.perf_counter() < deadline:
            if n % per_conversation == 0:
                conversation = None
            conversation = await turn(http, url, token, message, conversation, run)
            n += 1

    await asyncio.gather(*(player(t) for t in toks))


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` in milliseconds (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


def row(run: Run) -> dict[str, Any]:
    return {"engine": run.engine, "turn": run.kind, "turns": run.turns, "failed": run.failed,
            "tool_calls_ok": run.tools_ok, "seconds": round(run.seconds, 2),
            "turns_per_s": round(run.turns / run.seconds, 1) if run.seconds else 0.0,
            "first_byte_p50_ms": pct(run.ttfb, 0.5), "first_byte_p99_ms": pct(run.ttfb, 0.99),
            "first_text_p50_ms": pct(run.ttft, 0.5), "first_text_p99_ms": pct(run.ttft, 0.99),
            "turn_p50_ms": pct(run.whole, 0.5), "turn_p99_ms": pct(run.whole, 0.99),
            "cpu_ms_per_turn": run.cpu_ms}


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| engine | turn | turns | turns/s | first byte p50 / p99 ms | first text p50 / p99 ms "
            "| turn p50 / p99 ms | butler CPU ms/turn | stand-in | commerce | mongo | redis | client |")
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in rows:
        c = r["cpu_ms_per_turn"]
        lines.append(f"| {r['engine']} | {r['turn']} | {r['turns']} | {r['turns_per_s']} "
                     f"| {r['first_byte_p50_ms']} / {r['first_byte_p99_ms']} "
                     f"| {r['first_text_p50_ms']} / {r['first_text_p99_ms']} "
                     f"| {r['turn_p50_ms']} / {r['turn_p99_ms']} | {c['butler']} | {c['standin']} "
                     f"| {c['commerce']} | {c.get('mongo', '-')} | {c.get('redis', '-')} | {c['client']} |")
    return "\n".join(lines)


async def bench(args: argparse.Namespace, urls: dict[str, str], pids: dict[str, int]) -> list[dict[str, Any]]:
    for engine in ("model", "offline"):
        said = json.dumps(await ready(urls[f"butler-{engine}"]))
        if f'"engine": "{engine}"' not in said:
            raise AssertionError(f"butler-{engine} is not on the {engine} engine: {said}")
    conn = aiohttp.TCPConnector(limit=args.players * 2)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as http:
        toks = list(await asyncio.gather(*(register(http, urls["commerce"], n) for n in range(args.players))))
        rows = []
        for engine, kind in SCENARIOS:
            url = urls[f"butler-{engine}"]
            await players(http, url, toks, MESSAGES[kind], args.warmup, args.turns_per_conversation, None)
            run = Run(engine, kind)
            measured = {"butler": pids[f"butler-{engine}"], **{k: v for k, v in pids.items()
                                                               if not k.startswith("butler")}}
            before = {k: cpu_s(p) for k, p in measured.items()}
            t0 = time.perf_counter()
            await players(http, url, toks, MESSAGES[kind], args.seconds, args.turns_per_conversation, run)
            run.seconds = time.perf_counter() - t0
            after = {k: cpu_s(p) for k, p in measured.items()}
            run.cpu_ms = {k: round((after[k] - before[k]) * 1000 / max(1, run.turns), 2) for k in measured}
            if kind == "get_wallet" and run.tools_ok < run.turns:
                raise AssertionError(f"{engine}: {run.tools_ok} wallet reads in {run.turns} turns")
            rows.append(row(run))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--players", type=int, default=16, help="concurrent players, each its own account")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each measured run")
    parser.add_argument("--warmup", type=float, default=1.5, help="unmeasured turns before each run, seconds")
    parser.add_argument("--turns-per-conversation", type=int, default=4,
                        help="turns a player sends in one conversation before beginning a new one")
    parser.add_argument("--standin", type=int, help=argparse.SUPPRESS)  # serve the stand-in on this port
    args = parser.parse_args()
    if args.standin:
        run_standin(args.standin)
        return 0
    children: list[procs.Child] = []
    tmp = Path(tempfile.mkdtemp(prefix="butler-bench-"))
    logs = tmp / "logs"
    logs.mkdir()
    pids = {"client": os.getpid()}
    try:
        redis_url = os.environ.get("ELYSIUM_REDIS_URL")
        if not redis_url:
            children.append(procs.start_redis())
            redis_url = children[-1].url
            pids["redis"] = children[-1].proc.pid
        mongo_url = os.environ.get("ELYSIUM_MONGO_URL")
        if not mongo_url:
            children.append(procs.start_mongo())
            mongo_url = children[-1].url
            pids["mongo"] = children[-1].proc.pid
        for name in ("player", "service", "join"):
            tokens.generate_keypair(tmp, name)
        run_id = uuid.uuid4().hex[:6]
        base = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
        base.update({"ELYSIUM_MONGO_URL": mongo_url, "ELYSIUM_REDIS_URL": redis_url, "ELYSIUM_LOG_LEVEL": "warning",
                     "ELYSIUM_PLAYER_PUBLIC_KEY_FILE": str(tmp / "player.pub"), "PYTHONPATH": str(ROOT)})
        ports = {name: procs.free_port() for name in ("commerce", "matchmaker", "standin", "butler-model",
                                                       "butler-offline")}
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        children.append(service("matchmaker", ports["matchmaker"], {
            **base, "ELYSIUM_MATCHMAKER_DB": f"bench_butler_mm_{run_id}",
            "ELYSIUM_JOIN_PRIVATE_KEY_FILE": str(tmp / "join.key"),
            "ELYSIUM_SERVICE_PUBLIC_KEY_FILE": str(tmp / "service.pub")}, logs))
        children.append(service("commerce", ports["commerce"], {
            **base, "ELYSIUM_COMMERCE_DB": f"bench_butler_commerce_{run_id}",
            "ELYSIUM_PLAYER_PRIVATE_KEY_FILE": str(tmp / "player.key"),
            "ELYSIUM_SERVICE_PUBLIC_KEY_FILE": str(tmp / "service.pub"),
            "ELYSIUM_ARGON2_MEMORY_KIB": "1024", "ELYSIUM_ARGON2_TIME_COST": "1", "ELYSIUM_COMMERCE_REWARDS": "false",
            "ELYSIUM_COMMERCE_MATCHMAKER_URL": urls["matchmaker"], "ELYSIUM_PAYMENTS_PROVIDER": "sandbox"}, logs))
        pids["commerce"] = children[-1].proc.pid
        children.append(start("standin", [sys.executable, str(Path(__file__).resolve()), "--standin",
                                          str(ports["standin"])], base, ports["standin"], logs))
        pids["standin"] = children[-1].proc.pid
        from tests.butler.standin import API_KEY, MODEL

        butler = {**base, "ELYSIUM_BUTLER_COMMERCE_URL": urls["commerce"],
                  "ELYSIUM_BUTLER_MATCHMAKER_URL": urls["matchmaker"], "ELYSIUM_BUTLER_CHAT_LIMIT": str(CHAT_LIMIT)}
        children.append(service("butler-model", ports["butler-model"], {
            **butler, "ELYSIUM_BUTLER_DB": f"bench_butler_model_{run_id}", "OPENAI_API_KEY": API_KEY,
            "OPENAI_BASE_URL": f"{urls['standin']}/v1", "ELYSIUM_BUTLER_MODEL": MODEL}, logs))
        pids["butler-model"] = children[-1].proc.pid
        children.append(service("butler-offline", ports["butler-offline"], {
            **butler, "ELYSIUM_BUTLER_DB": f"bench_butler_offline_{run_id}"}, logs))
        pids["butler-offline"] = children[-1].proc.pid

        import uvloop

        rows = uvloop.run(bench(args, urls, pids))
        load = os.getloadavg()
        print(table(rows))
        print(json.dumps({"players": args.players, "seconds_per_run": args.seconds,
                          "turns_per_conversation": args.turns_per_conversation, "cores": os.cpu_count(),
                          "load_average": [round(x, 2) for x in load], "runs": rows}))
        return 0
    finally:
        for child in reversed(children):
            child.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
