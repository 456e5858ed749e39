"""The command: bad input exits 2 with a clear message; the local stack is started and stopped."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from elysium import procs
from gameserver.server import GameServer
from loadtest.cli import EXIT_INTERRUPTED, EXIT_OK, EXIT_TARGET, EXIT_THRESHOLDS, EXIT_USAGE, main
from tests.gameserver.conftest import SERVER_ID, url
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("argv", "needle"), [
    (["--scenario", "nope"], "no scenario named 'nope'"),
    (["--players", "0"], "'players' must be between 1"),
    (["--max-p99-ms", "-1"], "threshold 'max_p99_ms' must be a non-negative number"),
    (["--workers", "999"], "--workers must be between 0 and 256"),
    (["--url", "ws://127.0.0.1:9/v1/play", "--join-key-file", "/nonexistent/join.key"], "join key file"),
    (["--url", "ws://127.0.0.1:9/v1/play", "--flow", "full"], "the full flow needs commerce and matchmaker"),
    (["--url", "ws://127.0.0.1:9/v1/play", "--spectators-per-match", "1"], "needs a spectator relay"),
    (["--url", "ws://127.0.0.1:9/v1/play", "--redis-url", "http://127.0.0.1:6379"], "--redis-url must be a Redis URL"),
])
def test_bad_options_exit_2_and_say_why(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    assert main([*argv, "--out", str(tmp_path), "--quiet"]) == EXIT_USAGE
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "report.json").exists()


def _loadtest(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "loadtest", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_an_unreachable_url_exits_3_with_one_line_naming_it(keys_dir: Path, tmp_path: Path) -> None:
    port = procs.free_port()
    play = f"ws://127.0.0.1:{port}/v1/play"
    proc = _loadtest("--url", play, "--join-key-file", str(keys_dir / "join.key"), "--players", "2",
                     "--out", str(tmp_path))
    assert proc.returncode == EXIT_TARGET, proc.stderr[-2000:]
    assert proc.stderr.splitlines() == [f"loadtest: target: cannot reach the game server at {play}: connection refused"]
    assert proc.stdout == "" and not list(tmp_path.iterdir())  # nothing was run, no report


def test_an_unreachable_relay_exits_3_too(keys_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    relay = f"http://127.0.0.1:{procs.free_port()}"
    with socket.create_server(("127.0.0.1", 0)) as listening:  # the game server's port answers
        play = f"ws://127.0.0.1:{listening.getsockname()[1]}/v1/play"
        code = main(["--url", play, "--join-key-file", str(keys_dir / "join.key"), "--spectators-per-match", "1",
                     "--spectator-url", relay, "--out", str(tmp_path), "--quiet"])
    assert code == EXIT_TARGET and not list(tmp_path.iterdir())
    assert capsys.readouterr().err == f"loadtest: target: cannot reach the spectator relay at {relay}: connection refused\n"


@pytest.mark.parametrize(("argv", "needle"), [
    (["--players", "many"], "argument --players: invalid int value: 'many'"),
    (["--no-such-option"], "unrecognized arguments: --no-such-option"),
    (["--players", "0"], "loadtest: scenario key 'players' must be between 1"),
    (["--url", "http://127.0.0.1:9/v1/play"], "loadtest: --url must be a ws:// or wss:// URL, not 'http://127.0.0.1:9/v1/play'"),
    (["--commerce-url", "localhost:7380"], "loadtest: --commerce-url must be a http:// or https:// URL"),
])
def test_bad_arguments_exit_2_and_run_nothing(argv: list[str], needle: str, tmp_path: Path) -> None:
    proc = _loadtest(*argv, "--out", str(tmp_path))
    assert proc.returncode == EXIT_USAGE, proc.stderr[-2000:]
    assert needle in proc.stderr.splitlines()[-1] and "Traceback" not in proc.stderr
    assert not list(tmp_path.iterdir())


async def test_a_run_exits_0_when_thresholds_are_met_and_1_when_one_is_not(game_server: GameServer, keys_dir: Path,
                                                                           tmp_path: Path) -> None:
    async def loadtest(*extra: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "loadtest", "--url", url(game_server), "--server-id", SERVER_ID,
            "--join-key-file", str(keys_dir / "join.key"), "--players", "3", "--room-size", "3", "--duration-s", "1",
            "--workers", "1", "--out", str(tmp_path), *extra, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode is not None
        return proc.returncode, err.decode()

    # (A shared machine may delay the tester's loop: its own health is a warning in these two runs.)
    code, err = await loadtest("--tester-overload", "warn")
    assert code == EXIT_OK, err[-2000:]
    code, err = await loadtest("--max-p99-ms", "0.001", "--tester-overload", "warn")
    assert code == EXIT_THRESHOLDS and "threshold max_p99_ms not met" in err
    assert json.loads((tmp_path / "report.json").read_text())["thresholds"]["passed"] is False
    # A tester overloaded on purpose (the busy behaviour) fails by default, and only warns on request.
    busy = tmp_path / "busy.toml"
    busy.write_text('players = 10\nramp_per_s = 50\nduration_s = 2\nroom_size = 10\nretries = 0\n'
                    '[behaviour]\nbusy = 1\n')
    code, err = await loadtest("--scenario", str(busy), "--players", "10", "--room-size", "10")
    assert code == EXIT_THRESHOLDS and "threshold tester_not_overloaded not met" in err, err[-2000:]
    assert "loadtest: warning: the load tester was overloaded" in err
    code, err = await loadtest("--scenario", str(busy), "--players", "10", "--room-size", "10",
                               "--tester-overload", "warn")
    assert code == EXIT_OK and "loadtest: warning: the load tester was overloaded" in err, err[-2000:]


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if text.encode() in f.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def test_with_no_address_it_runs_the_local_stack_and_leaves_no_process(tmp_path: Path) -> None:
    state = tmp_path / "stack"
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "loadtest", "--scenario", "smoke", "--players", "10", "--duration-s", "3",
         "--spectators-per-match", "2", "--state-dir", str(state), "--out", str(out), "--max-p99-ms", "0.001"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    # The latency limit is impossible to meet: the run works and exits 1.
    assert proc.returncode == EXIT_THRESHOLDS, proc.stderr[-3000:]
    assert "threshold max_p99_ms not met" in proc.stderr
    doc = json.loads((out / "report.json").read_text())
    assert doc["target"]["started_local_stack"] and doc["players_peak_connected"] == 10
    assert doc["errors"] == 0
    checked = {c["name"]: c["ok"] for c in doc["thresholds"]["checked"]}
    assert "tester_not_overloaded" in checked  # met or not: a shared machine may overload the tester
    del checked["tester_not_overloaded"]
    assert checked == {"max_error_rate": True, "min_connected_ratio": True, "max_p99_ms": False}
    delta = doc["server"]["delta"]
    assert delta["joins_ok"] == 10 and delta["inputs"] == doc["counts"]["inputs_sent"]
    assert delta["frames_out"] == doc["counts"]["deltas"]
    assert doc["server"]["cpu_pct_mean"] is not None  # the stack's game server process was found
    # Two spectators watched the match through the relay, live.
    assert doc["spectator_join_ms"]["count"] == 2 and doc["spectator_latency_ms"]["count"] > 0
    assert max(r["spectators"] for r in doc["timeline"]) == 2
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["event"] == "loadtest_done" and summary["passed"] is False
    assert summary["latency_p95_ms"] == doc["latency_ms"]["p95"] and summary["inputs_rejected"] == 0
    assert summary["tester_overloaded"] is doc["tester"]["overloaded"]
    # The summary for people, at the end of the run on stderr.
    text = proc.stderr[proc.stderr.index("loadtest smoke: FAILED"):]
    assert "✓ max_error_rate" in text and "✓ min_connected_ratio" in text and "✗ max_p99_ms" in text
    assert "10 planned, 10 started, 10 peak connected" in text
    assert f"{doc['counts']['inputs_sent']:,} sent, {doc['counts']['inputs_acked']:,} acked, 0 rejected" in text
    assert " in (" in text and "/s), " in text and "timings (ms)" in text and "spectator latency" in text
    assert "tester loop lag" in text
    assert _processes_mentioning(str(state)) == []


def test_full_flow_registers_queues_and_joins_through_the_local_stack(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "loadtest", "--scenario", "smoke", "--flow", "full", "--players", "10",
         "--ramp-per-s", "20", "--duration-s", "8", "--min-connected-ratio", "0", "--out", str(out), "--quiet"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    if "needs commerce" in proc.stderr:
        pytest.skip("this build's local stack runs no commerce or matchmaker")
    doc = json.loads((out / "report.json").read_text())
    assert proc.returncode == 0, (proc.stderr[-2000:], doc["errors_by_cause"], doc["counts"], doc["failures"])
    assert doc["target"]["flow"] == "full" and doc["errors"] == 0
    # Every player was matched by the matchmaker (time to match measured) and joined the server with its token.
    assert doc["match_ms"]["count"] == doc["counts"]["joins"] == 10
    delta = doc["server"]["delta"]
    assert delta["joins_ok"] == 10 and delta["inputs"] == doc["counts"]["inputs_sent"]
    assert delta["frames_out"] == doc["counts"]["deltas"]


def test_the_default_report_directory_is_not_committed() -> None:
    from loadtest.settings import LoadTestSettings

    ignored = {line.strip().strip("/") for line in (ROOT / ".gitignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert LoadTestSettings().out_dir in ignored


def test_ctrl_c_before_the_run_exits_130_and_stops_the_local_stack(tmp_path: Path) -> None:
    state = tmp_path / "stack"
    proc = subprocess.Popen([sys.executable, "-m", "loadtest", "--state-dir", str(state), "--out", str(tmp_path / "out")],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Interrupt while the local stack is coming up (its state directory has its log by then).
        wait_until(lambda: (state / "up.err").exists() or proc.poll() is not None, timeout_s=60,
                   what="the local stack starting")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == EXIT_INTERRUPTED, err[-2000:]
    assert "loadtest: interrupted before the run began; nothing was measured" in err.splitlines()
    assert "Traceback" not in err
    assert out == "" and not (tmp_path / "out").exists()
    left = _processes_mentioning(str(state))
    assert left == [], [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in left]
