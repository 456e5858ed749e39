"""The Colyseus peer plays Elysium's arena: same rules, same quantised state, tick by tick.

A real peer server (``node server.mjs``) and real @colyseus/sdk clients
(``benchmarks/peers/colyseus/scenario.mjs``). The lockstep scenario drives two players
with inputs computed from Elysium's own arena (``gameserver.modes.arena.Arena``) run with
the same spawn points, and compares every tick's player rows, projectile rows and events.
The peer's npm packages are installed by the benchmark script (``npm ci``) when missing.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from elysium import procs
from gameserver.modes.arena import Arena
from gameserver.modes.arena_rules import OBSTACLES, PLAYER_RADIUS, SPAWNS
from gameserver.modes.base import ModeConfig
from gameserver.protocol import Input

ROOT = Path(__file__).resolve().parents[2]
PEER = ROOT / "benchmarks" / "peers" / "colyseus"
SEED = 7
TICKS = 320
STATUS = ("hit", "death", "respawn")
SPAWNS_CM = (SPAWNS * 100).astype(int).tolist()


@pytest.fixture(scope="module")
def peer_port() -> Iterator[int]:
    if shutil.which("node") is None:
        pytest.fail("node is not installed: the Colyseus peer needs Node.js and npm")
    install = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "side_by_side.py"), "--install-peer"],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr or install.stdout
    port = procs.free_port()
    server = subprocess.Popen(["node", "server.mjs", "--port", str(port)], cwd=PEER,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        procs.wait_for_port("127.0.0.1", port, 30, server)
        yield port
    finally:
        server.terminate()
        server.wait(10)


def scenario(spec: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(["node", "scenario.mjs"], cwd=PEER, input=json.dumps(spec), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def toward(src: np.ndarray, dst: np.ndarray) -> tuple[float, float, float]:
    """A full-speed move and the aim from ``src`` to ``dst``."""
    dx, dy = float(dst[0] - src[0]), float(dst[1] - src[1])
    length = math.hypot(dx, dy) or 1.0
    return dx / length, dy / length, math.atan2(dy, dx)


def elysium_trace(score_limit: int = 1000) -> tuple[list[int], list[list[list[Any]]], list[dict[str, Any]]]:
    """Elysium's arena with two players: seat 0 walks into the middle box, then both duel.

    Returns the spawn indices it drew, each tick's inputs and each tick's state (the last
    one with the match's end reason and results, when it ends within the ticks).
    """
    draws = np.random.default_rng(SEED)
    spawn_order = [int(draws.integers(len(SPAWNS))) for _ in range(64)]  # what the arena's rng will draw
    arena = Arena(ModeConfig(seats=2, tick_hz=20, seed=SEED,
                             options={"score_limit": score_limit, "time_limit_s": 3600.0}))
    arena.join(0, 0)
    arena.join(1, 0)
    inputs: list[list[list[Any]]] = []
    states: list[dict[str, Any]] = []
    middle = np.array([32.0, 32.0])
    for t in range(TICKS):
        pos = arena.pos.copy()
        rows: list[list[Any]] = []
        for seat in (0, 1):
            other = pos[1 - seat]
            if seat == 0 and t < 120:
                mx, my, _ = toward(pos[0], middle)  # into the obstacle, aiming at the other player
                aim = toward(pos[0], other)[2]
                rows.append([mx, my, aim, t % 7 == 0])
            else:
                mx, my, aim = toward(pos[seat], other)
                keep_off = 0.4 if seat else -0.3  # circle a little instead of meeting head on
                rows.append([mx * 0.5 + keep_off * my, my * 0.5 - keep_off * mx, aim, True])
        inputs.append(rows)
        outcome = arena.step({seat: Input(t + 1, *row) for seat, row in enumerate(rows)})
        snap = arena.snapshot()
        states.append({
            "n": snap.tick,
            "players": [[seat, *snap.players[seat].tolist()] for seat in (0, 1)],
            "objects": sorted(snap.objects.tolist()),
            "events": [e for e in outcome.events if e["k"] in STATUS],
        })
        if outcome.finished:
            states[-1]["end"] = outcome.finished
            states[-1]["results"] = sorted([r.seat, r.score, r.stats["kills"], r.stats["deaths"]] for r in arena.results())
            break
    return spawn_order, inputs, states


def on_grown_edge(x_cm: int, y_cm: int) -> bool:
    r = PLAYER_RADIUS * 100
    for x0, y0, x1, y1 in (OBSTACLES * 100).tolist():
        inside_x = x0 - r <= x_cm <= x1 + r
        inside_y = y0 - r <= y_cm <= y1 + r
        if inside_x and inside_y and (x_cm in (x0 - r, x1 + r) or y_cm in (y0 - r, y1 + r)):
            return True
    return False


def test_the_peer_plays_the_same_arena_tick_by_tick(peer_port: int) -> None:
    spawn_order, inputs, expected = elysium_trace()
    # The scenario is worth comparing: it presses against an obstacle, hits, kills and respawns.
    kinds = {e["k"] for s in expected for e in s["events"]}
    assert kinds == set(STATUS)
    assert any(on_grown_edge(s["players"][0][1], s["players"][0][2]) for s in expected[:120])

    got = scenario({"mode": "lockstep", "port": peer_port, "seats": 2, "spawnOrder": spawn_order, "inputs": inputs})

    assert got["errors"] == []
    assert [t["n"] for t in got["ticks"]] == list(range(1, TICKS + 1))
    for want, have in zip(expected, got["ticks"]):
        n = want["n"]
        assert [row[:10] for row in have["players"]] == want["players"], f"player rows differ at tick {n}"
        assert [row[10] for row in have["players"]] == [n, n], f"acks at tick {n}"
        assert have["objects"] == want["objects"], f"projectiles differ at tick {n}"
        events = [e for e in got["events"].get(str(n), []) if e["k"] in STATUS]
        assert events == want["events"], f"events differ at tick {n}"
    # The two rules the brief names, read off the peer's own state.
    first_hit = next(s for s in got["ticks"] if any(row[4] < 100 for row in s["players"]))
    assert sorted(row[4] for row in first_hit["players"])[0] == 75
    pressed = [s["players"][0] for s in got["ticks"][100:120]]
    assert all(on_grown_edge(row[1], row[2]) for row in pressed)  # stopped at the box, not through it


def test_the_match_ends_at_the_score_limit_as_elysiums_does(peer_port: int) -> None:
    spawn_order, inputs, expected = elysium_trace(score_limit=1)
    last = expected[-1]
    assert last.get("end") == "score" and last["n"] < TICKS

    got = scenario({"mode": "lockstep", "port": peer_port, "seats": 2, "spawnOrder": spawn_order, "inputs": inputs,
                    "scoreLimit": 1})

    assert [t["n"] for t in got["ticks"]] == list(range(1, last["n"] + 1))  # no tick after the end
    assert [row[:10] for row in got["ticks"][-1]["players"]] == last["players"]
    end = next(e for e in got["events"][str(last["n"])] if e["k"] == "end")
    assert end["reason"] == "score"
    assert sorted([r["seat"], r["score"], r["kills"], r["deaths"]] for r in end["results"]) == last["results"]


def test_the_peer_ticks_at_20_hz_and_refuses_bad_input(peer_port: int) -> None:
    got = scenario({"mode": "realtime", "port": peer_port, "seconds": 2})
    codes = [e["code"] for e in got["errors"]]
    assert codes == ["bad_field"] * 5 + ["unknown_type"]
    assert got["acksAfterBad"] == -1  # nothing of the bad inputs was applied
    assert got["before"][1:3] in SPAWNS_CM  # where it joined
    # One patch per tick, at about 20 ticks a second (a busy machine may run a little slow).
    assert got["patches"] == got["ticks"]
    assert got["elapsed_s"] >= 2
    assert 15 <= got["ticks"] / got["ts_span_s"] <= 21
    # Moving right at full speed: 30 cm a tick (the last move repeats on a tick without an
    # input), until the map's edge.
    moved = got["after"][1] - got["before"][1]
    assert moved > 0 and got["after"][2] == got["before"][2]
    assert moved % 30 == 0 or got["after"][1] == 6400 - 50
    assert got["after"][10] >= got["seqSent"] - 2  # acknowledged within a tick or two


def test_the_load_client_measures_what_elysiums_measures(peer_port: int) -> None:
    done = subprocess.run(
        ["node", "load.mjs", "--port", str(peer_port), "--players", "20", "--room-size", "10", "--workers", "2",
         "--settle-s", "0.5", "--measure-s", "1.5"],
        cwd=PEER, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.strip().splitlines()]
    assert lines[:2] == [{"phase": "measure-start"}, {"phase": "measure-end"}]
    result = lines[2]
    # The keys benchmarks/gameserver_load.py reports, so the side-by-side table reads both alike.
    assert {"players", "connected", "dropped", "latency_ms", "input_rtt_ms", "messages_in_per_s",
            "deltas_per_player_s", "bytes_in_per_s", "messages_out_per_s", "client_cpu"} <= result.keys()
    assert (result["players"], result["connected"], result["dropped"], result["workers"]) == (20, 20, 0, 2)
    assert 15 <= result["deltas_per_player_s"] <= 25
    assert 15 <= result["messages_out_per_s"] / 20 <= 21  # one input per player per tick
    # Every patch a raw player got had its ts where the client looks for it.
    assert result["patches_without_ts"] == 0
    assert result["latency_samples"] >= 20 * 15 * 1.5 * 0.8
    assert result["input_rtt_samples"] > 0 and result["input_rtt_ms"]["p50"] > 0
    assert len(result["client_cpu_per_process"]) == 2
