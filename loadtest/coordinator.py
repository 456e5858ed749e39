"""A distributed run's coordinator: agents connect, get their share of the workers, and report.

``elysium loadtest --agents N`` serves ``/v1/agent`` (a websocket, msgpack binary messages,
``docs/loadtest.md`` *Distributed runs*), ``/metrics`` (Prometheus: the run's live progress)
and ``/healthz`` from a thread of its own. When N agents have said hello it assigns each a
contiguous range of worker indices, and the runner drives them through :class:`RemotePool`
exactly as it drives local worker processes: each remote worker is a local pipe whose far
end this thread relays to and from the agent. An agent that goes away closes its workers'
pipes, so the runner sees them end before their last report and the run fails saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import msgpack
from aiohttp import WSMsgType, web

from elysium.metrics import CONTENT_TYPE_LATEST, Metrics
from loadtest.errors import TargetError
from loadtest.progress import Progress

AGENT_PATH = "/v1/agent"
AGENT_PROTOCOL = 1
MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # a snapshot with every histogram of a busy worker fits easily
SEND_TIMEOUT_S = 10.0


def pack(msg: dict[str, Any]) -> bytes:
    data: bytes = msgpack.packb(msg, use_bin_type=True)
    return data


def unpack(data: bytes) -> dict[str, Any]:
    msg = msgpack.unpackb(data, raw=False, strict_map_key=False)
    if not isinstance(msg, dict) or not isinstance(msg.get("t"), str):
        raise ValueError("not an agent message")
    return msg


@dataclass(eq=False)
class Agent:
    index: int
    host: str
    workers: int
    ws: web.WebSocketResponse
    first: int = 0
    pipes: dict[int, Connection] = field(default_factory=dict)  # worker index -> our end of its pipe
    finished: set[int] = field(default_factory=set)  # workers whose "done" was relayed
    lost: bool = False


class Coordinator:
    def __init__(self, host: str, port: int, agents: int) -> None:
        self.host, self.port, self.expected = host, port, agents
        self.agents: list[Agent] = []
        self.changed = threading.Condition()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.runner: web.AppRunner | None = None
        self.started_at = time.time()
        self.assigned = False
        self.metrics = Metrics("loadtest")
        m = self.metrics
        self.g_agents = m.gauge("agents_connected", "Agents connected to the coordinator")
        self.g_connected = m.gauge("players_connected", "Simulated players playing now, over all agents")
        self.g_started = m.gauge("players_started", "Simulated players started so far")
        self.g_msgs = m.gauge("msgs_in_per_s", "Messages received per second by all players (last finished second)")
        self.g_inputs = m.gauge("inputs_per_s", "Inputs sent per second by all players (last finished second)")
        self.g_p50 = m.gauge("latency_p50_ms", "Server-to-client latency p50 of the last finished second (ms)")
        self.g_p99 = m.gauge("latency_p99_ms", "Server-to-client latency p99 of the last finished second (ms)")
        self.g_rtt = m.gauge("input_rtt_p99_ms", "Input round trip p99 of the last finished second (ms)")
        self.g_lag = m.gauge("tester_lag_p99_ms", "The workers' event-loop lag p99 of the last finished second (ms)")
        self.g_cpu = m.gauge("tester_cpu_pct", "CPU of all workers in the last finished second (% of one core)")
        self.g_errors = m.gauge("errors", "Errors so far (cumulative)")
        self.g_disconnects = m.gauge("disconnects", "Disconnects so far (cumulative)")
        self.g_elapsed = m.gauge("run_seconds", "Seconds since the start signal (0 before it)")

    # --- lifecycle (called from the main thread) ------------------------------------------

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}{AGENT_PATH}"

    def start(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self.loop = loop
            try:
                loop.run_until_complete(self._open())
            except BaseException as exc:  # a port in use, say: reported to the caller
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._shut())
            loop.close()

        self.thread = threading.Thread(target=serve, name="loadtest-coordinator", daemon=True)
        self.thread.start()
        ready.wait(30)
        if failure:
            raise TargetError(f"the coordinator cannot listen on {self.host}:{self.port}: {failure[0]}")

    def wait_for_agents(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        with self.changed:
            while len(self._live()) < self.expected:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TargetError(f"{self.expected - len(self._live())} of {self.expected} agent(s) did not "
                                      f"connect to the coordinator at {self.url} within {timeout_s:g} s")
                self.changed.wait(min(left, 0.5))

    def stop(self) -> None:
        loop = self.loop
        if loop is not None and self.thread is not None and self.thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._goodbye(), loop).result(SEND_TIMEOUT_S)
            loop.call_soon_threadsafe(loop.stop)
            self.thread.join(15)

    def _live(self) -> list[Agent]:
        return [a for a in self.agents if not a.lost]

    def observe(self, row: dict[str, Any]) -> None:
        """One finished second of the run (a timeline row): the live gauges."""
        for gauge, key in ((self.g_connected, "connected"), (self.g_started, "started"),
                           (self.g_msgs, "msgs_in_per_s"), (self.g_inputs, "inputs_per_s"),
                           (self.g_p50, "latency_p50_ms"), (self.g_p99, "latency_p99_ms"),
                           (self.g_rtt, "input_rtt_p99_ms"), (self.g_lag, "tester_lag_p99_ms"),
                           (self.g_cpu, "tester_cpu_pct"), (self.g_errors, "errors"),
                           (self.g_disconnects, "disconnects"), (self.g_elapsed, "t")):
            value = row.get(key)
            if value is not None:
                gauge.set(value)

    # --- the server thread -------------------------------------------------------------------

    async def _open(self) -> None:
        app = web.Application()
        app.router.add_get(AGENT_PATH, self._agent)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        self.runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def _shut(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _goodbye(self) -> None:
        for agent in self._live():
            with contextlib.suppress(Exception):
                await agent.ws.send_bytes(pack({"t": "end"}))
                await agent.ws.close()

    async def _metrics(self, request: web.Request) -> web.Response:
        self.g_agents.set(len(self._live()))
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "agents": len(self._live()), "expected": self.expected})

    async def _agent(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, heartbeat=10.0)
        await ws.prepare(request)
        agent: Agent | None = None
        try:
            first = await ws.receive(timeout=10)
            hello = unpack(first.data) if first.type == WSMsgType.BINARY else {}
            workers = hello.get("workers")
            if hello.get("t") != "hello" or hello.get("v") != AGENT_PROTOCOL or not isinstance(workers, int) \
                    or not 1 <= workers <= 256:
                await ws.send_bytes(pack({"t": "refused", "reason": "expected a hello of agent protocol "
                                          f"{AGENT_PROTOCOL} with 1 to 256 workers"}))
                return ws
            with self.changed:
                if self.assigned or len(self._live()) >= self.expected:
                    refuse = "the run has all its agents"
                else:
                    refuse = ""
                    agent = Agent(index=len(self.agents), host=str(hello.get("host") or request.remote), workers=workers,
                                  ws=ws)
                    self.agents.append(agent)
                    self.changed.notify_all()
            if agent is None:
                await ws.send_bytes(pack({"t": "refused", "reason": refuse}))
                return ws
            async for msg in ws:
                if msg.type != WSMsgType.BINARY:
                    continue
                body = unpack(msg.data)
                w = body.get("w")
                if body["t"] == "from" and w in agent.pipes:
                    kind, fields = body["msg"]
                    agent.pipes[w].send((kind, fields))
                    if kind == "done":
                        agent.finished.add(w)
                elif body["t"] == "lost" and w in agent.pipes:
                    self._close_pipe(agent, w)
        except (TimeoutError, ValueError, TypeError, KeyError, OSError):
            pass
        finally:
            if agent is not None:
                with self.changed:
                    agent.lost = True
                    self.changed.notify_all()
                for w in list(agent.pipes):
                    self._close_pipe(agent, w)
        return ws

    def _close_pipe(self, agent: Agent, w: int) -> None:
        conn = agent.pipes.pop(w, None)
        if conn is not None:
            assert self.loop is not None
            with contextlib.suppress(Exception):
                self.loop.remove_reader(conn.fileno())
            conn.close()

    def _relay_to(self, agent: Agent, w: int, conn: Connection) -> None:
        """The runner wrote to worker ``w``'s pipe: pass it on to its agent."""
        try:
            kind, fields = conn.recv()
        except (EOFError, OSError):
            self._close_pipe(agent, w)
            return
        if not agent.lost:
            asyncio.ensure_future(agent.ws.send_bytes(pack({"t": "to", "w": w, "msg": [kind, fields]})))

    async def _assign(self, config: dict[str, Any]) -> dict[Connection, int]:
        assert self.loop is not None
        live = self._live()
        if len(live) < self.expected:
            raise TargetError(f"{self.expected - len(live)} of {self.expected} agent(s) left before the run began")
        total = sum(a.workers for a in live)
        conns: dict[Connection, int] = {}
        first = 0
        for agent in live:
            agent.first = first
            for w in range(first, first + agent.workers):
                ours, theirs = multiprocessing.Pipe(duplex=True)
                agent.pipes[w] = ours
                conns[theirs] = w
                self.loop.add_reader(ours.fileno(), self._relay_to, agent, w, ours)
            await agent.ws.send_bytes(pack({"t": "assign", "agent": agent.index, "first_worker": first,
                                            "workers": agent.workers, "workers_total": total, "config": config}))
            first += agent.workers
        return conns

    def pool(self) -> RemotePool:
        return RemotePool(self)


class RemotePool:
    """The workers of every agent, as the runner sees them (see :class:`loadtest.pool.WorkerPool`)."""

    def __init__(self, coordinator: Coordinator) -> None:
        self.coordinator = coordinator
        self.conns: dict[Connection, int] = {}

    def start(self, config: dict[str, Any]) -> dict[Connection, int]:
        c = self.coordinator
        with c.changed:
            c.assigned = True
        assert c.loop is not None
        self.conns = asyncio.run_coroutine_threadsafe(c._assign(config), c.loop).result(SEND_TIMEOUT_S)
        return dict(self.conns)

    def name(self, worker: int) -> str:
        for agent in self.coordinator.agents:
            if agent.first <= worker < agent.first + agent.workers:
                return f"agent {agent.index} ({agent.host}) worker {worker}" + (" (agent lost)" if agent.lost else "")
        return f"worker {worker}"

    def agents_lost(self) -> list[str]:
        return [f"agent {a.index} ({a.host}) disconnected before the run ended"
                for a in self.coordinator.agents if a.lost and len(a.finished) < a.workers]

    def close(self) -> None:
        for conn in self.conns:
            conn.close()


class LiveProgress(Progress):
    """Progress that also feeds the coordinator's ``/metrics``."""

    def __init__(self, inner: Progress, coordinator: Coordinator) -> None:
        super().__init__(inner.stream, tty=inner.tty, log_every_s=inner.log_every_s, enabled=inner.enabled)
        self.coordinator = coordinator

    def row(self, row: dict[str, Any], players: int) -> None:
        self.coordinator.observe(row)
        super().row(row, players)
