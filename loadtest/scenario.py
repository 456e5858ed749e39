"""Scenario files: how many players, how fast they arrive, how long they play, how they behave.

A scenario is a small TOML file (see ``docs/loadtest.md``). Loading is strict: an unknown
key, a value of the wrong type or out of range raises :class:`~loadtest.errors.UsageError`
naming the key, so a typo never silently runs a different test. Pure: no I/O but reading
the file.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtest.behaviour import BEHAVIOURS
from loadtest.errors import UsageError

SCENARIO_DIR = Path(__file__).parent / "scenarios"
FLOWS = ("direct", "full")

# Threshold keys a scenario (or the command line) may set, and what each compares.
THRESHOLDS: dict[str, str] = {
    "max_p99_ms": "server-to-client latency p99 (ms) must be at most this",
    "max_p50_ms": "server-to-client latency p50 (ms) must be at most this",
    "max_input_rtt_p99_ms": "input round trip p99 (ms) must be at most this",
    "max_join_p99_ms": "join time p99 (ms) must be at most this",
    "max_error_rate": "errors per simulated player must be at most this (0.01 = 1 %)",
    "min_connected_ratio": "peak connected players / players must be at least this",
}


MODE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")


@dataclass(frozen=True)
class Scenario:
    name: str
    players: int
    ramp_per_s: float  # new players per second, over all workers
    duration_s: float  # time at full load after the ramp
    description: str = ""
    flow: str = "direct"
    room_size: int = 10  # seats per match in the direct flow
    mode: str = "arena"  # the game mode played: the direct flow's rooms, the full flow's queue
    teams: int = 0  # teams per match in the direct flow (0: free for all)
    tick_hz: int | None = None  # None: the server's default
    spectators_per_match: int = 0
    retries: int = 2  # reconnects or re-joins per player after a failure
    connect_timeout_s: float = 10.0
    join_timeout_s: float = 10.0
    ping_interval_s: float = 2.0  # protocol pings for round trip time; 0 for none
    seed: int = 1
    replica_every: int = 10  # one player in this many decodes every message and measures its input round trip
    behaviour: dict[str, float] = field(default_factory=lambda: {"roamer": 1.0})
    thresholds: dict[str, float] = field(default_factory=dict)

    @property
    def ramp_s(self) -> float:
        return self.players / self.ramp_per_s

    @property
    def matches(self) -> int:
        return math.ceil(self.players / self.room_size)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_LIMITS: dict[str, tuple[type, float, float]] = {
    "players": (int, 1, 100_000),
    "ramp_per_s": (float, 0.1, 10_000),
    "duration_s": (float, 1, 3600),
    "room_size": (int, 1, 1000),
    "teams": (int, 0, 16),
    "tick_hz": (int, 1, 60),
    "spectators_per_match": (int, 0, 1000),
    "retries": (int, 0, 20),
    "connect_timeout_s": (float, 0.1, 120),
    "join_timeout_s": (float, 0.1, 120),
    "ping_interval_s": (float, 0, 60),
    "seed": (int, 0, 2**63 - 1),
    "replica_every": (int, 1, 100_000),
}


def _number(key: str, value: Any) -> int | float:
    kind, lo, hi = _LIMITS[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"scenario key {key!r} must be a number, not {type(value).__name__}")
    if kind is int and not (isinstance(value, int) or float(value).is_integer()):
        raise UsageError(f"scenario key {key!r} must be a whole number")
    if not math.isfinite(value) or not lo <= value <= hi:
        raise UsageError(f"scenario key {key!r} must be between {lo:g} and {hi:g}, not {value!r}")
    return int(value) if kind is int else float(value)


def _weights(value: Any) -> dict[str, float]:
    if not isinstance(value, dict) or not value:
        raise UsageError("scenario table 'behaviour' must map behaviour names to weights")
    out: dict[str, float] = {}
    for name, weight in value.items():
        if name not in BEHAVIOURS:
            raise UsageError(f"unknown behaviour {name!r} (known: {', '.join(sorted(BEHAVIOURS))})")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight < math.inf:
            raise UsageError(f"behaviour weight {name!r} must be a non-negative number")
        out[name] = float(weight)
    if sum(out.values()) <= 0:
        raise UsageError("behaviour weights must not all be zero")
    return out


def thresholds_from(value: Any, where: str = "scenario table 'thresholds'") -> dict[str, float]:
    if not isinstance(value, dict):
        raise UsageError(f"{where} must be a table")
    out: dict[str, float] = {}
    for key, limit in value.items():
        if key not in THRESHOLDS:
            raise UsageError(f"unknown threshold {key!r} (known: {', '.join(THRESHOLDS)})")
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not 0 <= limit < math.inf:
            raise UsageError(f"threshold {key!r} must be a non-negative number")
        out[key] = float(limit)
    return out


def from_mapping(data: dict[str, Any], *, default_name: str = "scenario") -> Scenario:
    """Build and validate a scenario from parsed TOML (or any mapping)."""
    known = {f.name for f in dataclasses.fields(Scenario)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise UsageError(f"unknown scenario key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    for required in ("players", "ramp_per_s", "duration_s"):
        if required not in data:
            raise UsageError(f"scenario key {required!r} is required")
    values: dict[str, Any] = {"name": default_name}
    for key, value in data.items():
        if key in _LIMITS:
            values[key] = _number(key, value)
        elif key in ("name", "description"):
            if not isinstance(value, str) or (key == "name" and not 1 <= len(value) <= 64):
                raise UsageError(f"scenario key {key!r} must be a string" + (" of 1 to 64 characters" if key == "name" else ""))
            values[key] = value
        elif key == "mode":
            if not isinstance(value, str) or not MODE_NAME.fullmatch(value):
                raise UsageError(f"scenario key 'mode' must be a mode name (a-z, 0-9, '-', '_'), not {value!r}")
            values[key] = value
        elif key == "flow":
            if value not in FLOWS:
                raise UsageError(f"scenario key 'flow' must be one of {', '.join(FLOWS)}, not {value!r}")
            values[key] = value
        elif key == "behaviour":
            values[key] = _weights(value)
        elif key == "thresholds":
            values[key] = thresholds_from(value)
    return Scenario(**values)


def load(name_or_path: str) -> Scenario:
    """Load a shipped scenario by name (``smoke``, ``capacity``) or a TOML file by path."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = SCENARIO_DIR / f"{name_or_path}.toml"
        if not path.exists():
            shipped = ", ".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.toml")))
            raise UsageError(f"no scenario named {name_or_path!r} (shipped: {shipped}; or give a .toml path)")
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise UsageError(f"cannot read scenario {str(path)!r}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"scenario {path.name} is not valid TOML: {exc}") from None
    return from_mapping(data, default_name=path.stem)


def with_overrides(scenario: Scenario, **overrides: Any) -> Scenario:
    """Apply command-line overrides (None means: keep the file's value), validated the same way."""
    data = scenario.to_json()
    data.update({k: v for k, v in overrides.items() if v is not None})
    if data.get("tick_hz") is None:
        data.pop("tick_hz", None)
    return from_mapping(data, default_name=scenario.name)
