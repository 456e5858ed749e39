"""The command: bad input exits 2 with a clear message; the local stack is started and stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from elysium import procs
from loadtest.cli import EXIT_THRESHOLDS, EXIT_USAGE, main

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


def test_an_unreachable_target_is_reported_as_errors(keys_dir: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    port = procs.free_port()
    code = main(["--url", f"ws://127.0.0.1:{port}/v1/play", "--join-key-file", str(keys_dir / "join.key"),
                 "--players", "2", "--ramp-per-s", "20", "--duration-s", "1", "--retries", "0", "--workers", "1",
                 "--out", str(tmp_path), "--quiet"])
    assert code == EXIT_THRESHOLDS
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["errors_by_cause"] == {"connect_refused": 2}
    assert doc["players_peak_connected"] == 0 and doc["counts"]["connect_failures"] == doc["counts"]["gave_up"] == 2
    assert not doc["thresholds"]["passed"]
    assert "threshold max_error_rate not met" in capsys.readouterr().err
    assert (tmp_path / "report.html").read_text().count("<svg") == 0  # no samples: no empty plots


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
