"""Scenario files load strictly: every mistake is named, nothing runs a different test silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest import scenario as scn
from loadtest.errors import UsageError


def test_shipped_scenarios_load() -> None:
    smoke = scn.load("smoke")
    capacity = scn.load("capacity")
    assert smoke.name == "smoke" and smoke.players == 20 and smoke.flow == "direct"
    assert capacity.thresholds["max_p99_ms"] == 50
    assert capacity.players > smoke.players
    assert set(capacity.behaviour) <= {"roamer", "strafer", "camper", "idle"}
    assert smoke.ramp_s == pytest.approx(0.5) and smoke.matches == 2


def test_a_scenario_file_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('players = 7\nramp_per_s = 7\nduration_s = 2\nroom_size = 3\n[behaviour]\nidle = 1\n')
    loaded = scn.load(str(path))
    assert loaded.name == "mine" and loaded.players == 7 and loaded.matches == 3
    assert loaded.behaviour == {"idle": 1.0}


@pytest.mark.parametrize(("text", "needle"), [
    ("players = 5\nramp_per_s = 1\n", "'duration_s' is required"),
    ("players = 5\nramp_per_s = 1\nduration_s = 1\nplayer = 3\n", "unknown scenario key 'player'"),
    ("players = 0\nramp_per_s = 1\nduration_s = 1\n", "'players' must be between 1"),
    ("players = 2.5\nramp_per_s = 1\nduration_s = 1\n", "'players' must be a whole number"),
    ("players = '5'\nramp_per_s = 1\nduration_s = 1\n", "'players' must be a number"),
    ("players = 5\nramp_per_s = 1\nduration_s = 1\nflow = 'sideways'\n", "'flow' must be one of"),
    ("players = 5\nramp_per_s = 1\nduration_s = 1\n[behaviour]\nsprinter = 1\n", "unknown behaviour 'sprinter'"),
    ("players = 5\nramp_per_s = 1\nduration_s = 1\n[behaviour]\nroamer = 0\n", "must not all be zero"),
    ("players = 5\nramp_per_s = 1\nduration_s = 1\n[thresholds]\nmax_p98_ms = 1\n", "unknown threshold 'max_p98_ms'"),
    ("players = 5\nramp_per_s = 1\nduration_s = 1\n[thresholds]\nmax_p99_ms = -1\n", "non-negative"),
    ("players = 5\nramp_per_s = [1\n", "not valid TOML"),
])
def test_bad_scenarios_are_refused_with_the_key_named(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=needle.replace("[", r"\[").replace("(", r"\(")):
        scn.load(str(path))


def test_unknown_names_and_missing_files() -> None:
    with pytest.raises(UsageError, match="no scenario named 'nope'.*smoke"):
        scn.load("nope")
    with pytest.raises(UsageError, match="cannot read scenario"):
        scn.load("/nonexistent/dir/x.toml")


def test_overrides_are_validated_like_the_file() -> None:
    smoke = scn.load("smoke")
    bigger = scn.with_overrides(smoke, players=40, duration_s=None)
    assert bigger.players == 40 and bigger.duration_s == smoke.duration_s
    with pytest.raises(UsageError, match="'ramp_per_s' must be between"):
        scn.with_overrides(smoke, ramp_per_s=0)
    with pytest.raises(UsageError, match="unknown threshold"):
        scn.thresholds_from({"max_everything": 1}, "command line")
