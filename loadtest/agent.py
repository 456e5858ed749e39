"""``elysium loadtest agent --coordinator URL``: run a share of a distributed run's workers here.

The agent connects to the coordinator's ``/v1/agent`` websocket, says hello (how many
workers it brings), receives its assignment (the run's config and its worker indices),
starts those workers as local processes (:class:`loadtest.pool.LocalPool`) and relays
between them and the coordinator until the coordinator says the run has ended. It keeps
trying to reach the coordinator for ``--connect-timeout-s`` (in a cluster the agents may
start before the coordinator's Service answers).

Exit status: 0 the run ended; 2 a bad option or URL; 3 the coordinator could not be
reached, refused the agent, or went away before the run ended.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import sys
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from loadtest.coordinator import AGENT_PATH, AGENT_PROTOCOL, MAX_MESSAGE_BYTES, pack, unpack
from loadtest.errors import TargetError, UsageError
from loadtest.pool import LocalPool

EXIT_OK, EXIT_USAGE, EXIT_TARGET = 0, 2, 3
RETRY_S = 0.5


def agent_url(url: str) -> str:
    """The coordinator's agent websocket from what the operator gave (http(s):// or ws(s)://, path optional)."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.hostname:
        raise UsageError(f"--coordinator must be an http://, https://, ws:// or wss:// URL with a host, not {url!r}")
    try:
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise UsageError(f"--coordinator has a bad port: {url!r}") from None
    path = parts.path.rstrip("/") or AGENT_PATH
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def add_agent_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("agent", help="run a share of a distributed run's simulated players for a coordinator")
    parser.add_argument("--coordinator", required=True, help="the coordinator's address, e.g. "
                        "http://loadtest-coordinator:7380 (its agent websocket is /v1/agent)")
    parser.add_argument("--workers", type=int, default=0, help="worker processes here (0: one per core)")
    parser.add_argument("--join-key-file", help="join key for development tokens here (default: the path the "
                        "coordinator uses)")
    parser.add_argument("--connect-timeout-s", type=float, default=30.0, help="how long to keep trying to reach "
                        "the coordinator (s)")
    parser.set_defaults(func=agent_command)


def agent_command(args: argparse.Namespace) -> int:
    from loadtest.runner import default_workers

    try:
        url = agent_url(args.coordinator)
        if not 0 <= args.workers <= 256:
            raise UsageError("--workers must be between 0 and 256")
        if not 0 < args.connect_timeout_s <= 3600:
            raise UsageError("--connect-timeout-s must be between 0 and 3600")
    except UsageError as exc:
        print(f"loadtest agent: {exc}", file=sys.stderr)
        return EXIT_USAGE
    workers = args.workers or default_workers()
    try:
        asyncio.run(run_agent(url, workers, args.join_key_file, args.connect_timeout_s))
    except TargetError as exc:
        print(f"loadtest agent: {exc}", file=sys.stderr)
        return EXIT_TARGET
    except KeyboardInterrupt:
        return 130
    return EXIT_OK


async def _connect(session: aiohttp.ClientSession, url: str, timeout_s: float) -> aiohttp.ClientWebSocketResponse:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            return await session.ws_connect(url, max_msg_size=MAX_MESSAGE_BYTES, heartbeat=10.0,
                                            timeout=aiohttp.ClientWSTimeout(ws_close=5.0))
        except (aiohttp.ClientError, OSError) as exc:
            if loop.time() + RETRY_S >= deadline:
                raise TargetError(f"cannot reach the coordinator at {url} within {timeout_s:g} s: "
                                  f"{exc or type(exc).__name__}") from None
        await asyncio.sleep(RETRY_S)


async def run_agent(url: str, workers: int, join_key_file: str | None, connect_timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as session:
        ws = await _connect(session, url, connect_timeout_s)
        await ws.send_bytes(pack({"t": "hello", "v": AGENT_PROTOCOL, "host": platform.node(), "workers": workers,
                                  "pid": os.getpid()}))
        msg = await ws.receive()
        if msg.type != aiohttp.WSMsgType.BINARY:
            raise TargetError(f"the coordinator at {url} closed before assigning any work")
        assign = unpack(msg.data)
        if assign["t"] == "refused":
            raise TargetError(f"the coordinator at {url} refused this agent: {assign.get('reason')}")
        if assign["t"] == "end":
            raise TargetError(f"the coordinator at {url} ended the run before it began")
        if assign["t"] != "assign":
            raise TargetError(f"unexpected message from the coordinator: {assign['t']!r}")
        config: dict[str, Any] = assign["config"]
        if join_key_file:
            config["join_key_file"] = join_key_file
        pool = LocalPool(assign["workers"], first=assign["first_worker"], total=assign["workers_total"])
        outbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        conns: dict[int, Connection] = {}

        def forward(w: int, conn: Connection) -> None:
            try:
                kind, fields = conn.recv()
            except (EOFError, OSError):
                loop.remove_reader(conn.fileno())
                conns.pop(w, None)
                outbox.put_nowait(pack({"t": "lost", "w": w}))
                return
            outbox.put_nowait(pack({"t": "from", "w": w, "msg": [kind, fields]}))

        async def sender() -> None:
            while (data := await outbox.get()) is not None:
                await ws.send_bytes(data)

        sending = loop.create_task(sender())
        ended = False
        try:
            started = await loop.run_in_executor(None, pool.start, config)
            for conn, w in started.items():
                conns[w] = conn
                loop.add_reader(conn.fileno(), forward, w, conn)
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.BINARY:
                    continue
                body = unpack(msg.data)
                if body["t"] == "to" and body.get("w") in conns:
                    with contextlib.suppress(OSError):
                        conns[body["w"]].send(tuple(body["msg"]))
                elif body["t"] == "end":
                    ended = True
                    break
        finally:
            for w, conn in list(conns.items()):
                with contextlib.suppress(OSError, ValueError):
                    loop.remove_reader(conn.fileno())
                    if not ended:
                        conn.send(("stop", None))  # the coordinator is gone: the players leave
            outbox.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sending, 5.0)
            await ws.close()
            await loop.run_in_executor(None, pool.close)
        if not ended:
            raise TargetError(f"lost the coordinator at {url} before the run ended")
