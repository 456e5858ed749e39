"""One simulated player: get a seat, connect, join, play at the tick rate, measure, leave.

The session (seat, connect, join, retries) is a coroutine; the hot path is two callbacks:
:meth:`SimPlayer.on_message` runs for every message received and takes the timing samples,
and :meth:`SimPlayer.tick` runs once per tick from the worker's :class:`~loadtest.ticker.Ticker`
(one timer for every player of the worker) and sends the behaviour's next input. A player
costs no timer and no task while it plays. Only one player in ``replica_every`` decodes
every message in full (and so sees the acks that time its inputs' round trips); the others
read a delta's tick number and timestamp from its first bytes (:mod:`loadtest.inputs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import msgpack

from elysium.ws import envelope, play
from loadtest.behaviour import Behaviour
from loadtest.flows import Assignment, FlowError, JoinFlow
from loadtest.inputs import DELTA_HEAD, SchemaError, SchemaInputs, delta_header, encode_input
from loadtest.measure import Recorder
from loadtest.ticker import Ticker
from loadtest.wsclient import HandshakeFailed, WsClient, open_ws

FINISHED = "finished"  # the run is over: not a disconnect
MATCH_OVER = "match_over"
TIME_UP = "time_up"  # the player's end time came while it played: it leaves
MAX_PENDING_INPUTS = 64
MAX_CREDIT = 2
LEAVE_CLOSE_WAIT_S = 2.0  # how long a leaving player waits for the server to close


class JoinRefused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class PlayerConfig:
    connect_timeout_s: float
    join_timeout_s: float
    ping_interval_s: float
    retries: int
    tick_hz: int = 20  # until the welcome says otherwise


class SimPlayer:
    __slots__ = (
        "index", "flow", "behaviour", "rec", "cfg", "end_at", "ws", "seat", "period_us", "running", "leaving", "seq",
        "pending", "last_n", "last_rx", "welcome", "closed", "resume", "next_ping", "ping_id", "ping_sent",
        "msgs", "connected_s", "match_over", "loop", "fatal", "bytes_in", "ticker", "credit", "token", "inputs",
    )

    def __init__(self, index: int, flow: JoinFlow, behaviour: Behaviour, rec: Recorder, cfg: PlayerConfig,
                 end_at: float, ticker: Ticker, *, replica: bool = True) -> None:
        self.index = index
        self.flow = flow
        self.behaviour = behaviour
        self.rec = rec
        self.cfg = cfg
        self.end_at = end_at  # loop time at which the player leaves
        self.ws: WsClient | None = None
        self.seat = -1
        self.period_us = 1_000_000 // cfg.tick_hz
        self.running = False
        self.leaving = False  # a leave was sent: no more inputs on this connection
        self.seq = 0
        # Only a player that keeps the replica decodes whole deltas and so sees its acks.
        self.pending: deque[tuple[int, int]] | None = deque(maxlen=MAX_PENDING_INPUTS) if replica else None
        self.last_n = -1
        self.last_rx = 0
        self.welcome: asyncio.Future[dict[str, Any]] | None = None
        self.closed: asyncio.Future[str] | None = None
        self.resume: str | None = None
        self.next_ping = 0
        self.ping_id = 0
        self.ping_sent = 0  # perf_counter_ns of the ping awaiting its pong (0: none)
        self.msgs = 0
        self.connected_s = 0.0
        self.match_over = False
        self.fatal: str | None = None  # an error or shutdown that explains the coming close
        self.bytes_in = 0
        self.ticker = ticker
        self.credit = 0  # deltas received and not yet answered by an input (at most MAX_CREDIT)
        self.token: str | None = None  # the join token, until the join is sent
        self.inputs: SchemaInputs | None = None  # another mode's input encoder (None: the arena's fast path)
        self.loop = asyncio.get_running_loop()

    # --- the session --------------------------------------------------------------------

    async def run(self) -> None:
        rec, cfg, loop = self.rec, self.cfg, self.loop
        failures = 0
        assignment: Assignment | None = None
        while loop.time() < self.end_at and failures <= cfg.retries:
            if failures:
                rec.counts["retries"] += 1
                await asyncio.sleep(min(2.0, 0.2 * 2 ** (failures - 1), max(0.0, self.end_at - loop.time())))
            try:
                if self.resume is None:
                    try:
                        assignment = await asyncio.wait_for(self.flow.assign(self.index),
                                                            max(0.1, self.end_at - loop.time()))
                    except TimeoutError:
                        raise FlowError("assign_timeout", "no seat before the end of the run") from None
                    if assignment.waited_us is not None:
                        rec.time_us("match", assignment.waited_us)
                assert assignment is not None
                # The token goes with the join and is not kept (a rejoin resumes; a fresh join gets a
                # fresh assignment): thousands of players should not each hold one for the whole run.
                self.token = assignment.token if self.resume is None else None
                assignment = dataclasses.replace(assignment, token="")
                cause = await self._session(assignment.url)
            except (OSError, TimeoutError, HandshakeFailed) as exc:
                rec.counts["connect_failures"] += 1
                rec.error(_connect_cause(exc))
                failures += 1
                continue
            except FlowError as exc:
                rec.counts["assign_failures"] += 1
                rec.error(exc.cause)
                failures += 1
                continue
            except JoinRefused as exc:
                rec.counts["join_failures"] += 1
                rec.error(exc.code)
                if exc.code == play.RESUME_REJECTED:
                    self.resume = None
                failures += 1
                continue
            if cause == FINISHED:
                return
            if cause == MATCH_OVER:
                rec.disconnect(MATCH_OVER)
                return
            rec.disconnect(cause)
            failures += 1
        if loop.time() < self.end_at and failures > cfg.retries:
            rec.counts["gave_up"] += 1

    async def play(self) -> None:
        """Run the whole session and record this player's rates; never raises."""
        try:
            await self.run()
        finally:
            self.record_rates()
            self.rec.players_done += 1

    async def _session(self, url: str) -> str:
        rec, cfg, loop = self.rec, self.cfg, self.loop
        started = time.perf_counter_ns()
        self.fatal = None
        if self.pending is not None:
            self.pending.clear()
        self.welcome = loop.create_future()
        self.closed = loop.create_future()
        self.leaving = False
        self.ws = ws = await open_ws(url, self, min(cfg.connect_timeout_s, self.end_at - loop.time() + 0.1))
        rec.counts["connects"] += 1
        try:
            self._send(play.encode_join(token=self.token, resume=self.resume))
            self.token = None
            done, _ = await asyncio.wait((self.welcome, self.closed), timeout=cfg.join_timeout_s,
                                         return_when=asyncio.FIRST_COMPLETED)
            welcomed, closed = self.welcome in done, self.closed in done
            del done  # it holds the welcome future (and so the welcome) for as long as the frame lives
            if welcomed:
                welcome = self.welcome.result()
            elif closed:
                raise JoinRefused(self.fatal or f"closed_before_welcome_{self.closed.result()}")
            else:
                raise JoinRefused("join_timeout")
            if welcome["t"] == "error":
                raise JoinRefused(str(welcome.get("code", "error")))
            self._on_welcome(welcome)  # raises JoinRefused for an input schema it cannot read
            rec.time_us("join", (time.perf_counter_ns() - started) / 1000)
            rec.counts["joins"] += 1
            del welcome  # the welcome (map, columns) is not needed again: hold no reference
            self.welcome = None
            joined_at = loop.time()
            rec.connected += 1
            self.ticker.add(self)
            try:
                if self.end_at > loop.time():
                    # One timer handle while playing (no wait_for machinery held for the whole session).
                    timer = loop.call_at(self.end_at, self._time_up)
                    try:
                        cause = await self.closed
                    finally:
                        timer.cancel()
                    if cause != TIME_UP:
                        return cause
                    self.closed = loop.create_future()
                elif self.closed.done():
                    return self.closed.result()
                # No input after the leave: the server has given the seat up when it reads one,
                # so it would count nothing for it (deltas still arrive until it closes).
                self.leaving = True
                self._send(envelope.encode_leave())
                # The server answers a leave by closing the connection: wait for that, so the
                # frames it wrote before reading the leave are read and counted too.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self.closed), LEAVE_CLOSE_WAIT_S)
                return FINISHED
            finally:
                self.ticker.discard(self)
                rec.connected -= 1
                played = loop.time() - joined_at
                self.connected_s += played
                rec.counts["connected_ms"] += int(played * 1000)
        finally:
            ws.close()
            self.ws = None

    def _time_up(self) -> None:
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(TIME_UP)

    def finish(self) -> None:
        """End the session now (the run is being stopped)."""
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(FINISHED)

    def record_rates(self) -> None:
        if self.connected_s > 0.5:
            self.rec.time_us("player_msgs_per_s", 1000 * self.msgs / self.connected_s)
            self.rec.time_us("player_bytes_per_s", self.bytes_in / self.connected_s)

    # --- the hot path ---------------------------------------------------------------------

    def _send(self, payload: bytes) -> None:
        ws = self.ws
        if ws is not None:
            self.rec.bytes_out += ws.send(payload)
            self.rec.msgs_out += 1

    def _on_welcome(self, msg: dict[str, Any]) -> None:
        try:
            self.inputs = SchemaInputs.of(msg.get("input"), self.behaviour.rng)
        except (SchemaError, KeyError, TypeError, ValueError):
            raise JoinRefused("unreadable_input_schema") from None
        self.seat = msg["player"]
        self.resume = msg.get("resume")
        self.period_us = 1_000_000 // int(msg.get("tick_hz") or self.cfg.tick_hz)
        self.running = msg.get("state") == "running"
        self.last_n = -1
        self.credit = 0

    def on_message(self, data: bytes) -> None:
        rec = self.rec
        size = len(data)
        size += 2 if size < 126 else 4 if size < 65536 else 10  # as framed on the wire
        rec.msgs_in += 1
        rec.bytes_in += size
        self.msgs += 1
        self.bytes_in += size
        if self.pending is None and data[2:9] == DELTA_HEAD:
            # Lazy: a delta's tick number and timestamp come from its first bytes; nothing else of it
            # is needed by a player that keeps no replica.
            header = delta_header(data)
            if header is not None:
                rec.deltas += 1
                self._on_frame(header[0], header[1], True)
                return
        try:
            msg = msgpack.unpackb(data, raw=False, strict_map_key=False)
            kind = msg["t"]
        except (ValueError, TypeError, KeyError, msgpack.UnpackException):
            rec.error("bad_message")
            return
        if kind == "delta" or kind == "keyframe":
            if kind == "delta":
                rec.deltas += 1
            else:
                rec.keyframes += 1
            self._on_frame(msg["n"], msg["ts"], kind == "delta")
            acks = msg.get("a")
            if acks and self.pending:
                for seat, seq in acks:
                    if seat == self.seat:
                        self._acked(seq, self.last_rx)
                        break
            if kind == "keyframe" and msg.get("state") == "running":
                self.running = True
        elif kind == "events":
            rec.counts["events"] += 1
            for ev in msg["e"]:
                k = ev.get("k")
                if k == "start":
                    self.running = True
                elif k == "end":
                    self.running = False
                    self.match_over = True
                    rec.counts["match_ends_seen"] += 1
        elif kind == "welcome":
            if self.welcome is not None and not self.welcome.done():
                self.welcome.set_result(msg)
        elif kind == "pong":
            if msg.get("id") == self.ping_id and self.ping_sent:
                rec.counts["pongs"] += 1
                rec.time_us("ping_rtt", (time.perf_counter_ns() - self.ping_sent) / 1000)
                self.ping_sent = 0
        elif kind == "error":
            code = str(msg.get("code", "error"))
            if self.welcome is not None and not self.welcome.done():
                self.fatal = code
                self.welcome.set_result(msg)
            else:
                rec.error(code)
                if code == play.ROOM_CLOSED:
                    self.fatal = code
        elif kind == "shutdown":
            self.fatal = "server_shutdown"

    def _on_frame(self, n: int, ts: int, is_delta: bool) -> None:
        """A delta or keyframe of tick ``n`` stamped ``ts`` (server wall clock, µs) arrived now."""
        rx = time.perf_counter_ns()
        rec = self.rec
        lag = time.time_ns() // 1000 - ts
        if lag < 0:
            rec.counts["clock_skew"] += 1
            lag = 0
        rec.latency.record(lag)
        if is_delta and self.credit < MAX_CREDIT:
            self.credit += 1
        if is_delta and n == self.last_n + 1:
            rec.tick_jitter.record(abs((rx - self.last_rx) // 1000 - self.period_us))
        self.last_n = n
        self.last_rx = rx

    def _acked(self, seq: int, rx: int) -> None:
        pending = self.pending
        assert pending is not None
        rtt = self.rec.input_rtt
        acked = 0
        while pending and pending[0][0] <= seq:
            sent_seq, sent = pending.popleft()
            if sent_seq == seq:
                rtt.record((rx - sent) // 1000)
            acked += 1
        self.rec.counts["inputs_acked"] += acked

    def tick(self, now_ns: int) -> bool:
        """The worker's tick: send this tick's input (and a ping when one is due); True if an input went out."""
        if not self.running or self.leaving:
            return False
        ws = self.ws
        if ws is None:
            return False
        rec = self.rec
        sent = False
        move = None
        if self.credit > 0:
            # At most one input per delta received: a server that falls behind is not sent more
            # inputs than it ticks (they would only queue up and be dropped as queue_full).
            self.credit -= 1
            move = self.behaviour.step()
        if move is not None:
            self.seq = seq = (self.seq + 1) & 0xFFFFFFFF
            inputs = self.inputs
            rec.bytes_out += ws.send(encode_input(seq, move) if inputs is None else inputs.encode(seq, move))
            rec.msgs_out += 1
            rec.inputs_sent += 1
            sent = True
            pending = self.pending
            if pending is not None:
                pending.append((seq, now_ns))
                rec.inputs_sampled += 1
        interval = self.cfg.ping_interval_s
        if interval > 0 and now_ns >= self.next_ping:
            self.next_ping = now_ns + int(interval * 1e9)
            self.ping_id += 1
            self.ping_sent = now_ns
            self._send(envelope.encode_ping(self.ping_id))
            rec.counts["pings"] += 1
        return sent

    def on_close(self, cause: str) -> None:
        if self.match_over:
            cause = MATCH_OVER
        elif self.fatal:
            cause = self.fatal
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(cause)


def _connect_cause(exc: BaseException) -> str:
    if isinstance(exc, HandshakeFailed):
        return exc.cause
    if isinstance(exc, TimeoutError):
        return "connect_timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connect_refused"
    if isinstance(exc, ConnectionResetError):
        return "connect_reset"
    return "connect_error"
