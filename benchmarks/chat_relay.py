"""Chat messages per second one relay process carries with thousands of players connected.

    .venv/bin/python benchmarks/chat_relay.py --players 5000 --rates 200,500,1000 --seconds 10

What runs (on a two-core machine, pinned with taskset):

* core 0: one relay process (``elysium spectator`` with a player key: the social socket);
* core 1: Redis and the load clients (``--client-procs`` processes, each a share of the players).

Every player is a raw asyncio protocol: the websocket handshake on ``/v1/social``, ``hello``
with its own player token, ``sub`` to its party channel (``--channel-size`` players each, the
membership written beforehand as the matchmaker writes it). Then, for ``--seconds``, the
clients send ``say`` messages at the offered rate, spread evenly over the players; each
message is checked (length, filter, membership, mute, the player's rate, blocks against
every member), kept in the channel's history, published once to Redis and written to every
member's socket. Clients count the ``msg`` frames they receive straight from the bytes.

Figures per run: messages accepted per second (acks), deliveries per second (``msg`` frames
received, each message times its channel's members), refusals, the relay's CPU and the load
clients' CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MSG_MARK = b"\xa1t\xa3msg"  # msgpack: the key "t" then the string "msg"
ACK_MARK = b"\xa1t\xa3ack"
ERROR_MARK = b"\xa1t\xa5error"
HISTORY_MARK = b"\xa1t\xa7history"
CODE_MARK = b"\xa4code"  # an error's "code" key; its value follows


# --- the load client (runs in its own processes) ---------------------------------------------


class Player(asyncio.Protocol):
    __slots__ = ("token", "channel", "head", "open", "transport", "ready", "msgs", "acks", "errors", "codes")

    def __init__(self, token: str, channel: str, ready: asyncio.Future[None]) -> None:
        self.token, self.channel = token, channel
        self.head = b""
        self.open = False
        self.transport: asyncio.Transport | None = None
        self.ready = ready
        self.msgs = self.acks = self.errors = 0
        self.codes: dict[str, int] = {}  # error code -> count

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = tcp = cast(asyncio.Transport, transport)
        key = base64.b64encode(os.urandom(16)).decode()
        tcp.write(f"GET /v1/social HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())

    def send(self, payload: bytes) -> None:
        from elysium.ws import frames

        assert self.transport is not None
        self.transport.write(frames.frame_client(frames.OP_BINARY, payload, os.urandom(4)))

    def data_received(self, data: bytes) -> None:
        from spectator import social_protocol as sp

        if not self.open:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.head.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(RuntimeError(self.head[:80].decode(errors="replace")))
                return
            self.open = True
            data, self.head = self.head[end + 4:], b""
            self.send(sp.encode_hello(self.token))
            self.send(sp.encode_sub(self.channel, 1))
        self.msgs += data.count(MSG_MARK)
        self.acks += data.count(ACK_MARK)
        errors = data.count(ERROR_MARK)
        if errors:
            self.errors += errors
            at = data.find(CODE_MARK)
            while at >= 0:
                n = data[at + len(CODE_MARK)] & 0x1F  # a short string: its header holds its length
                code = data[at + len(CODE_MARK) + 1:at + len(CODE_MARK) + 1 + n].decode(errors="replace")
                self.codes[code] = self.codes.get(code, 0) + 1
                at = data.find(CODE_MARK, at + 1)
        if not self.ready.done() and HISTORY_MARK in data:
            self.ready.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before subscribing"))


async def run_clients(args: argparse.Namespace) -> None:
    from spectator import social_protocol as sp

    loop = asyncio.get_running_loop()
    work = json.loads(Path(args.work).read_text())
    players: list[Player] = []
    for token, channel in work:
        ready: asyncio.Future[None] = loop.create_future()
        player = Player(token, channel, ready)
        await loop.create_connection(lambda p=player: p, "127.0.0.1", args.port)  # type: ignore[misc]
        players.append(player)
        if len(players) % 100 == 0:
            await asyncio.gather(*(p.ready for p in players[-100:]))
    await asyncio.gather(*(p.ready for p in players))
    print(json.dumps({"connected": len(players)}), flush=True)
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line.strip() or line.strip() == "stop":
            break
        rate = float(line)  # messages per second from this process
        before = [(p.msgs, p.acks, p.errors) for p in players]
        cpu0, t0 = time.process_time(), time.monotonic()
        sent, i, step = 0, 0, 0.01
        while time.monotonic() - t0 < args.seconds:
            due = int((time.monotonic() - t0) * rate) - sent
            for _ in range(due):
                player = players[i % len(players)]
                i += 1
                player.send(sp.encode_say(player.channel, f"hello team, message {sent}"))
                sent += 1
            await asyncio.sleep(step)
        await asyncio.sleep(1.0)  # the last messages' deliveries
        elapsed = time.monotonic() - t0
        cpu = time.process_time() - cpu0
        print(json.dumps({
            "sent": sent,
            "acks": sum(p.acks - b[1] for p, b in zip(players, before, strict=True)),
            "errors": sum(p.errors - b[2] for p, b in zip(players, before, strict=True)),
            "delivered": sum(p.msgs - b[0] for p, b in zip(players, before, strict=True)),
            "codes": {code: sum(p.codes.get(code, 0) for p in players)
                      for code in sorted({c for p in players for c in p.codes})},
            "client_cpu_s": round(cpu, 2), "elapsed_s": round(elapsed, 2),
        }), flush=True)
    for p in players:
        if p.transport is not None:
            p.transport.close()


# --- the driver -----------------------------------------------------------------------------


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pin(cores: str) -> list[str]:
    return ["taskset", "-c", cores] if cores and os.path.exists("/usr/bin/taskset") else []


async def prepare(redis_url: str, players: int, channel_size: int) -> list[tuple[str, str]]:
    import redis.asyncio as aioredis

    from elysium import chat, social

    client = aioredis.from_url(redis_url)
    ids = [f"p{i}" for i in range(players)]
    channels = [chat.party_channel(f"B{i // channel_size}") for i in range(players)]
    for start in range(0, players, channel_size):
        await chat.add_members(client, channels[start], ids[start:start + channel_size])
    for player in ids:
        await social.write_graph(client, player, [], [])
    await client.aclose()
    return list(zip(ids, channels, strict=True))


async def main(args: argparse.Namespace) -> None:
    from elysium import procs, tokens

    redis = procs.start_redis()
    if pin(args.client_core):
        subprocess.run(["taskset", "-pc", args.client_core, str(redis.proc.pid)], check=False, capture_output=True)
        os.sched_setaffinity(0, {int(c) for c in args.client_core.split(",")})
    tmp = Path(tempfile.mkdtemp(prefix="chat-bench-"))
    key_file, pub_file = tokens.generate_keypair(tmp, "player")
    signer = tokens.Signer(tokens.load_private_key(path=str(key_file)), "elysium-commerce")
    relay: subprocess.Popen[bytes] | None = None
    clients: list[subprocess.Popen[bytes]] = []
    try:
        pairs = await prepare(redis.url, args.players, args.channel_size)
        port = procs.free_port()
        env = {**os.environ, "ELYSIUM_REDIS_URL": redis.url, "ELYSIUM_SPECTATOR_ID": "chat-bench",
               "ELYSIUM_PLAYER_PUBLIC_KEY_FILE": str(pub_file), "ELYSIUM_LOG_LEVEL": "warning",
               "ELYSIUM_CHAT_MESSAGES_PER_WINDOW": "10000", "ELYSIUM_SOCIAL_MAX_MESSAGES_PER_S": "1000"}
        relay = subprocess.Popen([*pin(args.relay_core), sys.executable, "-m", "elysium", "spectator", "--port",
                                  str(port)], env=env, stdout=subprocess.PIPE, stderr=open(os.environ.get("CHAT_BENCH_RELAY_LOG", os.devnull), "wb"), cwd=ROOT)
        assert relay.stdout is not None
        json.loads(relay.stdout.readline())
        for n in range(args.client_procs):
            share = [(signer.issue(pid, tokens.PLAYER_AUDIENCE, 3600), ch) for pid, ch in pairs[n::args.client_procs]]
            work = tmp / f"work-{n}.json"
            work.write_text(json.dumps(share))
            clients.append(subprocess.Popen(
                [*pin(args.client_core), sys.executable, __file__, "--client", "--port", str(port), "--work", str(work),
                 "--seconds", str(args.seconds)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT))
        loop = asyncio.get_running_loop()
        connected = 0
        for c in clients:
            assert c.stdout is not None
            connected += json.loads(await loop.run_in_executor(None, c.stdout.readline))["connected"]
        rows = []
        for rate in [float(r) for r in args.rates.split(",")]:
            relay_cpu0, client_cpu0 = cpu_s(relay.pid), sum(cpu_s(c.pid) for c in clients)
            t0 = time.monotonic()
            for c in clients:
                assert c.stdin is not None
                c.stdin.write(f"{rate / len(clients)}\n".encode())
                c.stdin.flush()
            parts = []
            for c in clients:
                assert c.stdout is not None
                parts.append(json.loads(await loop.run_in_executor(None, c.stdout.readline)))
            wall = time.monotonic() - t0
            window = max(p["elapsed_s"] for p in parts)
            if os.environ.get("CHAT_BENCH_VERBOSE"):
                print(json.dumps(parts), file=sys.stderr)
            row: dict[str, Any] = {
                "players": connected, "channel_size": args.channel_size, "offered_per_s": rate,
                "accepted_per_s": round(sum(p["acks"] for p in parts) / window, 1),
                "refused": sum(p["errors"] for p in parts),
                "refused_by_code": {c: sum(p["codes"].get(c, 0) for p in parts)
                                    for c in sorted({c for p in parts for c in p["codes"]})},
                "deliveries_per_s": round(sum(p["delivered"] for p in parts) / window, 1),
                "relay_cpu_pct": round(100 * (cpu_s(relay.pid) - relay_cpu0) / wall, 1),
                "client_cpu_pct": round(100 * (sum(cpu_s(c.pid) for c in clients) - client_cpu0) / wall, 1),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
        print(json.dumps({"seconds": args.seconds, "runs": rows}, indent=1))
    finally:
        for c in clients:
            if c.stdin is not None:
                try:
                    c.stdin.write(b"stop\n")
                    c.stdin.flush()
                except OSError:
                    pass
            try:
                c.wait(30)
            except subprocess.TimeoutExpired:
                c.kill()
        if relay is not None:
            relay.send_signal(signal.SIGTERM)
            try:
                relay.wait(30)
            except subprocess.TimeoutExpired:
                relay.kill()
        redis.stop()


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--players", type=int, default=5000)
    ap.add_argument("--channel-size", type=int, default=10, help="players per party channel")
    ap.add_argument("--rates", default="200,500,1000", help="offered messages per second, one run each")
    ap.add_argument("--seconds", type=float, default=10.0, help="measurement window per run")
    ap.add_argument("--client-procs", type=int, default=1)
    ap.add_argument("--relay-core", default="0")
    ap.add_argument("--client-core", default="1")
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    return ap.parse_args()


if __name__ == "__main__":
    arguments = parse()
    import uvloop

    uvloop.run(run_clients(arguments) if arguments.client else main(arguments))
