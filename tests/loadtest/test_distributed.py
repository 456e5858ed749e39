"""A distributed run: a coordinator and agents as separate processes against a real game server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp

from elysium import procs
from gameserver.server import GameServer
from loadtest.serverstats import parse_prometheus
from tests.gameserver.conftest import SERVER_ID, url
from tests.loadtest.test_run import _server_view, _settle
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 180


async def _spawn(*args: str) -> asyncio.subprocess.Process:
    # Its own session, so that a test can end an agent with the workers it started.
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "loadtest", *args, cwd=ROOT,
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                start_new_session=True)


def _coordinator_args(server: GameServer, keys_dir: Path, out: Path, port: int, *, agents: int, duration_s: float,
                      timeout_s: float = 60) -> list[str]:
    return ["--scenario", "smoke", "--duration-s", str(duration_s), "--ramp-per-s", "40", "--agents", str(agents),
            "--coordinator-host", "127.0.0.1", "--coordinator-port", str(port), "--agent-timeout-s", str(timeout_s),
            "--url", url(server), "--server-id", SERVER_ID, "--join-key-file", str(keys_dir / "join.key"),
            "--out", str(out), "--quiet"]


async def _live_metrics(port: int) -> dict[str, float] | None:
    """The coordinator's /metrics once its players are playing, else None."""
    try:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as resp:
            body = await resp.text()
    except aiohttp.ClientError:
        return None
    found = {name: value for name, value in parse_prometheus(body).items() if name.startswith("elysium_loadtest_")}
    return found if found.get("elysium_loadtest_players_connected", 0) > 0 else None


async def _finish(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    try:
        _, err = await asyncio.wait_for(proc.communicate(), RUN_TIMEOUT_S)
    except TimeoutError:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_two_agents_report_once_and_match_the_servers_metrics(game_server: GameServer, keys_dir: Path,
                                                                     tmp_path: Path) -> None:
    port = procs.free_port()
    out = tmp_path / "out"
    coordinator = await _spawn(*_coordinator_args(game_server, keys_dir, out, port, agents=2, duration_s=3),
                               "--tester-overload", "warn")  # a shared machine may delay the agents' loops
    agents = [await _spawn("agent", "--coordinator", f"http://127.0.0.1:{port}", "--workers", "1") for _ in range(2)]
    live = await until(lambda: _live_metrics(port), timeout_s=90, interval_s=0.2, what="live players in /metrics")
    assert live["elysium_loadtest_agents_connected"] == 2 and live["elysium_loadtest_players_started"] > 0
    code, err = await _finish(coordinator)
    for agent in agents:
        agent_code, agent_err = await _finish(agent)
        assert agent_code == 0, agent_err
    doc = json.loads((out / "report.json").read_text())
    assert code == 0, (err, doc["failures"], doc["thresholds"])
    server = await _settle(game_server)
    counts = doc["counts"]
    assert doc["schema"] == "elysium.loadtest/2" and doc["workers"] == 2 and doc["failures"] == []
    assert doc["players"] == doc["players_peak_connected"] == 20 and doc["errors"] == 0
    # One report from both agents, exactly what the server saw.
    assert counts["connects"] == server["connections"] == 20
    assert counts["joins"] == server["joins_ok"] == 20
    assert counts["inputs_sent"] == server["inputs"] > 0
    assert counts["deltas"] == server["frames_out"] > 0
    # The merged histograms hold every sample of both agents.
    assert doc["latency_ms"]["count"] == counts["deltas"] + counts["keyframes"]
    assert doc["join_ms"]["count"] == 20
    names = [w["name"] for w in doc["tester"]["workers_detail"]]
    assert len(names) == 2 and names[0].startswith("agent 0 ") and names[1].startswith("agent 1 ")
    assert doc["thresholds"]["passed"]


async def test_an_agent_that_dies_mid_run_fails_the_run_and_the_report_says_so(game_server: GameServer,
                                                                               keys_dir: Path, tmp_path: Path) -> None:
    port = procs.free_port()
    out = tmp_path / "out"
    coordinator = await _spawn(*_coordinator_args(game_server, keys_dir, out, port, agents=2, duration_s=20))
    agents = [await _spawn("agent", "--coordinator", f"http://127.0.0.1:{port}", "--workers", "1") for _ in range(2)]
    await until(lambda: _live_metrics(port), timeout_s=90, interval_s=0.2, what="live players in /metrics")
    os.killpg(agents[1].pid, signal.SIGKILL)  # the agent and the workers it started
    code, err = await _finish(coordinator)
    survivor, _ = await _finish(agents[0])
    await agents[1].wait()
    doc = json.loads((out / "report.json").read_text())
    assert code == 1, err
    assert survivor == 0
    lost = [f for f in doc["failures"] if f.endswith("disconnected before the run ended")]
    assert len(lost) == 1 and lost[0].startswith("agent "), doc["failures"]  # agents are numbered as they connect
    assert not doc["thresholds"]["passed"]
    assert f"loadtest: {lost[0]}" in err.splitlines()
    # The other agent's players played on: the run's counts include them.
    assert doc["players_peak_connected"] >= 10 and doc["counts"]["joins"] >= 10


async def test_an_agent_that_never_connects_is_a_one_line_error(game_server: GameServer, keys_dir: Path,
                                                                tmp_path: Path) -> None:
    port = procs.free_port()
    out = tmp_path / "out"
    coordinator = await _spawn(*_coordinator_args(game_server, keys_dir, out, port, agents=2, duration_s=2,
                                                  timeout_s=3))
    agent = await _spawn("agent", "--coordinator", f"http://127.0.0.1:{port}", "--workers", "1")
    code, err = await _finish(coordinator)
    agent_code, agent_err = await _finish(agent)
    assert code == 3
    assert err.strip().splitlines()[-1] == (f"loadtest: target: 1 of 2 agent(s) did not connect to the coordinator "
                                            f"at ws://127.0.0.1:{port}/v1/agent within 3 s")
    assert not (out / "report.json").exists()
    assert agent_code == 3 and "ended the run before it began" in agent_err
    assert _server_view(game_server)["connections"] == 0  # no player was started


def test_a_bad_coordinator_url_is_a_one_line_error() -> None:
    bad = subprocess.run([sys.executable, "-m", "loadtest", "agent", "--coordinator", "ftp://somewhere"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == ["loadtest agent: --coordinator must be an http://, https://, ws:// or "
                                               "wss:// URL with a host, not 'ftp://somewhere'"]
    port = procs.free_port()
    gone = subprocess.run([sys.executable, "-m", "elysium", "loadtest", "agent", "--coordinator",
                           f"http://127.0.0.1:{port}", "--connect-timeout-s", "1"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert gone.returncode == 3
    lines = gone.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"loadtest agent: cannot reach the coordinator at "
                                                   f"ws://127.0.0.1:{port}/v1/agent within 1 s")


def test_bad_distributed_options_are_usage_errors() -> None:
    for args, message in ((["--agents", "-1"], "--agents must be between 0 and 1000"),
                          (["--coordinator-port", "70000"], "--coordinator-port must be between 0 and 65535"),
                          (["--agent-timeout-s", "0"], "--agent-timeout-s must be between 0 and 3600"),
                          (["agent", "--coordinator", "http://h:7380", "--workers", "999"],
                           "--workers must be between 0 and 256")):
        proc = subprocess.run([sys.executable, "-m", "loadtest", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr.strip().splitlines()[-1], (args, proc.stderr)


async def test_the_coordinator_refuses_a_bad_hello_and_an_agent_too_many() -> None:
    from loadtest.coordinator import Coordinator, pack, unpack

    coordinator = Coordinator("127.0.0.1", 0, agents=1)
    await asyncio.to_thread(coordinator.start)
    try:
        async with aiohttp.ClientSession() as session:
            async def hello(msg: dict[str, object]) -> dict[str, object] | None:
                ws = await session.ws_connect(coordinator.url)
                await ws.send_bytes(pack(msg))
                try:
                    reply = await ws.receive(timeout=2)
                except TimeoutError:
                    return None  # accepted: it waits for its assignment
                finally:
                    await ws.close()
                return unpack(reply.data) if reply.type == aiohttp.WSMsgType.BINARY else {"closed": True}

            bads: list[dict[str, object]] = [{"t": "hello", "v": 99, "workers": 1}, {"t": "hello", "v": 1, "workers": 0},
                                             {"t": "hello", "v": 1, "workers": "two"}, {"t": "nonsense"}]
            for bad in bads:
                reply = await hello(bad)
                assert reply is not None and reply["t"] == "refused" and "agent protocol 1" in str(reply["reason"])
            assert coordinator.agents == []  # refused hellos change nothing
            ws = await session.ws_connect(coordinator.url)
            await ws.send_bytes(pack({"t": "hello", "v": 1, "workers": 2, "host": "a"}))
            await until(lambda: len(coordinator.agents) == 1, timeout_s=10, what="the agent registered")
            reply = await hello({"t": "hello", "v": 1, "workers": 1, "host": "b"})
            assert reply == {"t": "refused", "reason": "the run has all its agents"}
            assert [(a.host, a.workers) for a in coordinator.agents] == [("a", 2)]
            await asyncio.to_thread(coordinator.wait_for_agents, 1.0)
            await ws.close()
    finally:
        await asyncio.to_thread(coordinator.stop)
