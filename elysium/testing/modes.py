"""The conformance suite for game modes: run it from any mode's own tests.

    from elysium.testing.modes import CHECKS, Scenario, run_check

    @pytest.mark.parametrize("check", CHECKS)
    def test_my_mode_conforms(check: str) -> None:
        run_check(check, MyMode, scenarios={"won": Scenario(options={"points": 1}, policy=greedy)})

or ``check_mode(MyMode, ...)`` for all of them at once. A failed check raises
:class:`ConformanceError` saying what differed, at which step. The checks drive the mode
the way the engine does (joins, leaves, at most one input per present seat per step, the
last input repeated by the schema's rules) without a server:

- ``declaration``: the class-level declarations load (what ``ELYSIUM_MODES`` checks).
- ``determinism``: the same seed, joins, leaves and inputs give the same snapshots, events,
  outcomes and results, twice.
- ``purity``: playing a room reads no clock, draws from no shared random source and opens
  no file or socket (``time.time`` and its kin, the ``random`` module's functions, ``open``
  and ``socket.socket`` are replaced by recorders while the mode runs).
- ``step_many``: rooms stepped together with ``step_many`` (made by one factory, on one
  phase) evolve exactly as the same rooms stepped alone.
- ``wire``: every snapshot fits the columns (int32 rows, one per seat, objects keyed by a
  growing id, object rows unchanged while they live), and a client that rebuilds the state
  from a keyframe and then only the deltas (msgpack, docs/protocol.md) has the snapshot.
- ``input_bounds``: rows with each field at its low bound, its high bound and its default
  decode and step cleanly.
- ``joins_and_leaves``: a seat joins or leaves at every step (rejoins included) and the
  snapshot's ``present`` follows.
- ``results``: results are valid shared match results (``elysium.results``) at every finish
  reason: the engine's (``abandoned``, ``shutdown``, ``error``: any moment) and each of the
  mode's declared reasons, reached by a :class:`Scenario` (or by random play).
"""

from __future__ import annotations

import builtins
import contextlib
import random
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import msgpack
import numpy as np

from elysium.modes.api import ENGINE_REASONS, GameMode, ModeConfig, Snapshot, StepOutcome
from elysium.modes.registry import ModeLoadError, check_mode as check_declaration
from elysium.modes.schema import BoolField, EnumField, Field, FloatField, IntField, MoveField
from elysium.results import MatchResult, PlayerRow, ResultError

CHECKS: Final = ("declaration", "determinism", "purity", "step_many", "wire", "input_bounds", "joins_and_leaves",
                  "results")

# A policy picks a seat's input fields (without seq) from the snapshot before the step.
Policy = Callable[[Snapshot, int, random.Random], Sequence[Any]]


class ConformanceError(AssertionError):
    """A mode broke the contract; the message says which check, where and what differed."""


@dataclass(frozen=True)
class Scenario:
    """How to play a room to one of the mode's finish reasons (or just how to play one).

    ``policy`` picks each seat's input (default: random values within the schema's bounds).
    """

    options: Mapping[str, Any] = field(default_factory=dict)
    seats: int | None = None
    teams: int | None = None
    policy: Policy | None = None
    max_steps: int = 20_000


def random_policy(mode: type[GameMode[Any]]) -> Policy:
    fields = mode.input_schema.fields

    def pick(snap: Snapshot, seat: int, rng: random.Random) -> list[Any]:
        return [_random_value(f, rng) for f in fields]

    return pick


def _random_value(f: Field, rng: random.Random) -> Any:
    if isinstance(f, IntField):
        return rng.randint(f.lo, f.hi)
    if isinstance(f, FloatField):
        return rng.choice((f.lo, f.hi, rng.uniform(f.lo, f.hi), rng.uniform(f.lo, f.hi)))
    if isinstance(f, BoolField):
        return rng.random() < 0.3
    if isinstance(f, EnumField):
        return rng.randrange(len(f.choices))
    if isinstance(f, MoveField):
        return rng.randrange(-1, f.count)
    raise ConformanceError(f"unknown field type {type(f).__name__}")


# --- a driver that plays a mode as the engine does --------------------------------------------


class Driver:
    """One room of ``mode`` with the engine's seat and input rules, recording what it produced."""

    def __init__(self, mode: GameMode[Any], rng: random.Random, policy: Policy) -> None:
        self.mode = mode
        self.config = mode.config
        self.schema = type(mode).input_schema
        self.rng = rng
        self.policy = policy
        self.seated: set[int] = set()
        self.last: dict[int, tuple[Any, ...]] = {}
        self.seq = 0
        self.log: list[Any] = []

    def team_for(self, seat: int) -> int:
        return seat % self.config.teams if self.config.teams else 0

    def join(self, seat: int) -> None:
        self.mode.join(seat, self.team_for(seat))
        self.seated.add(seat)
        self.last[seat] = self.schema.idle
        self.log.append(("join", seat))

    def leave(self, seat: int) -> None:
        self.mode.leave(seat)
        self.seated.discard(seat)
        self.log.append(("leave", seat))

    def inputs(self, snap: Snapshot) -> dict[int, tuple[Any, ...]]:
        out: dict[int, tuple[Any, ...]] = {}
        for seat in sorted(self.seated):
            if self.rng.random() < 0.15:  # nothing new from this seat: the last input again
                out[seat] = self.schema.repeat(self.last[seat])
                continue
            self.seq += 1
            row = self.schema.decode_row([self.seq, *self.policy(snap, seat, self.rng)])
            self.last[seat] = out[seat] = row
        return out

    def record(self, outcome: StepOutcome, snap: Snapshot) -> None:
        self.log.append((outcome.finished, _plain(outcome.events), snap.tick, snap.players.tolist(),
                         snap.present.tolist(), snap.objects.tolist()))


def _plain(value: Any) -> Any:
    return msgpack.unpackb(msgpack.packb(value), raw=False)


def _configure(mode: type[GameMode[Any]], seed: int, scenario: Scenario) -> ModeConfig:
    lo_seats, hi_seats = mode.seat_range
    seats = scenario.seats or max(lo_seats, min(hi_seats, 4))
    lo_teams, hi_teams = mode.team_range
    teams = scenario.teams if scenario.teams is not None else (lo_teams if lo_teams != 1 else 2)
    lo_hz, hi_hz = mode.tick_hz_range
    return mode.configure(seats=seats, tick_hz=max(lo_hz, min(hi_hz, 20)), seed=seed, teams=teams,
                          options=scenario.options)


def _fail(check: str, message: str) -> ConformanceError:
    return ConformanceError(f"{check}: {message}")


def _play(mode_cls: type[GameMode[Any]], config: ModeConfig, seed: int, steps: int, policy: Policy,
          churn: float = 0.05, mode: GameMode[Any] | None = None) -> Driver:
    """Seat everyone, then step with the odd leave and rejoin; stop at a finish."""
    room = mode if mode is not None else mode_cls(config)
    d = Driver(room, random.Random(seed), policy)
    for seat in range(config.seats):
        d.join(seat)
    for _ in range(steps):
        _churn(d, churn)
        snap = room.snapshot()
        outcome = room.step(d.inputs(snap))
        d.record(outcome, room.snapshot())
        if outcome.finished:
            break
    d.log.append(("results", [_row(r) for r in room.results()]))
    return d


def _churn(d: Driver, rate: float) -> None:
    for seat in range(d.config.seats):
        if d.rng.random() < rate:
            if seat in d.seated and len(d.seated) > 1:
                d.leave(seat)
            elif seat not in d.seated:
                d.join(seat)


def _row(r: Any) -> tuple[Any, ...]:
    return (r.seat, r.score, r.team, r.time_played_s, dict(r.stats))


# --- the checks -------------------------------------------------------------------------------


def check_declaration_loads(mode: type[GameMode[Any]], **_: Any) -> None:
    try:
        check_declaration(mode)
    except ModeLoadError as exc:
        raise _fail("declaration", str(exc)) from None


def check_determinism(mode: type[GameMode[Any]], *, seeds: Sequence[int] = (1, 2), steps: int = 300,
                      scenario: Scenario = Scenario(), **_: Any) -> None:
    policy = scenario.policy or random_policy(mode)
    for seed in seeds:
        config = _configure(mode, seed, scenario)
        first = _play(mode, config, seed, steps, policy)
        second = _play(mode, config, seed, steps, policy)
        _close(first.mode, second.mode)
        for i, (a, b) in enumerate(zip(first.log, second.log)):
            if a != b:
                raise _fail("determinism", f"seed {seed}: entry {i} differs between two runs: {a!r:.300} != {b!r:.300}")
        if len(first.log) != len(second.log):
            raise _fail("determinism", f"seed {seed}: one run finished earlier than the other")


_IMPURE: Final = ((time, ("time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns",
                           "process_time", "sleep")),
                   (random, ("random", "randint", "randrange", "uniform", "choice", "shuffle", "gauss", "seed")),
                   (builtins, ("open",)), (socket, ("socket", "create_connection")))


@contextlib.contextmanager
def _sealed(calls: list[str]) -> Iterator[None]:
    """Replace the clock, the shared random source, files and sockets by recorders."""
    saved = [(module, name, getattr(module, name)) for module, names in _IMPURE for name in names]

    def recorder(label: str) -> Callable[..., Any]:
        def called(*args: Any, **kwargs: Any) -> Any:
            calls.append(label)
            raise ConformanceError(f"purity: the mode called {label}")
        return called

    try:
        for module, name, _ in saved:
            setattr(module, name, recorder(f"{module.__name__}.{name}"))
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


def check_purity(mode: type[GameMode[Any]], *, steps: int = 200, scenario: Scenario = Scenario(), **_: Any) -> None:
    policy = scenario.policy or random_policy(mode)
    config = _configure(mode, 17, scenario)
    room = mode(config)
    d = Driver(room, random.Random(17), policy)
    for seat in range(config.seats):
        d.join(seat)
    calls: list[str] = []
    try:
        for _step in range(steps):
            _churn(d, 0.05)
            inputs = d.inputs(room.snapshot())  # the driver's own draws happen outside the seal
            with _sealed(calls):
                outcome = room.step(inputs)
                room.snapshot()
            if outcome.finished:
                break
        with _sealed(calls):
            room.results()
    except ConformanceError:
        pass
    finally:
        room.close()
    if calls:
        raise _fail("purity", f"the mode called {calls[0]} (a mode takes time from its steps and randomness "
                              f"from config.rng(), and does no I/O)")


def check_step_many(mode: type[GameMode[Any]], *, rooms: int = 3, steps: int = 200, scenario: Scenario = Scenario(),
                    **_: Any) -> None:
    policy = scenario.policy or random_policy(mode)
    configs = [_configure(mode, seed, scenario) for seed in range(11, 11 + rooms)]
    factory = mode.factory(sum(c.seats for c in configs) * 2)
    together = [factory.create(c, 0) for c in configs]
    alone = [mode.factory(c.seats * 2).create(c, 0) for c in configs]
    drivers = [[Driver(m, random.Random(i), policy) for m in pair] for i, pair in enumerate(zip(together, alone))]
    for pair in drivers:
        for d in pair:
            for seat in range(d.config.seats):
                d.join(seat)
    live = list(range(rooms))
    for step in range(steps):
        if not live:
            break
        batch_inputs = []
        for i in live:
            da, db = drivers[i]
            _churn(da, 0.03)
            _churn(db, 0.03)
            ia, ib = da.inputs(da.mode.snapshot()), db.inputs(db.mode.snapshot())
            if ia != ib:
                raise _fail("step_many", f"room {i} step {step}: the same play gave different inputs")
            batch_inputs.append(ia)
        outcomes = mode.step_many([together[i] for i in live], batch_inputs)
        if len(outcomes) != len(live):
            raise _fail("step_many", f"returned {len(outcomes)} outcomes for {len(live)} rooms")
        for i, out_many, inputs in zip(list(live), outcomes, batch_inputs):
            out_alone = alone[i].step(inputs)
            a, b = together[i].snapshot(), alone[i].snapshot()
            for name, x, y in (("players", a.players, b.players), ("present", a.present, b.present),
                               ("objects", a.objects, b.objects)):
                if not np.array_equal(x, y):
                    raise _fail("step_many", f"room {i} step {step}: {name} differ from stepping alone")
            if a.tick != b.tick or _plain(out_many.events) != _plain(out_alone.events) or (
                    out_many.finished != out_alone.finished):
                raise _fail("step_many", f"room {i} step {step}: the outcome differs from stepping alone")
            if out_many.finished:
                live.remove(i)
    for m in (*together, *alone):
        m.close()


def check_wire(mode: type[GameMode[Any]], *, steps: int = 300, scenario: Scenario = Scenario(), **_: Any) -> None:
    policy = scenario.policy or random_policy(mode)
    config = _configure(mode, 5, scenario)
    room = mode(config)
    d = Driver(room, random.Random(5), policy)
    for seat in range(config.seats):
        d.join(seat)
    width, motion = len(mode.columns.player), mode.columns.motion
    owidth = len(mode.columns.object)
    client = _DocClient(width, motion)
    prev: Snapshot | None = None
    alive: dict[int, list[int]] = {}
    newest = -1
    for step in range(steps):
        _churn(d, 0.05)
        outcome = room.step(d.inputs(room.snapshot()))
        snap = room.snapshot()
        where = f"step {step + 1}"
        _check_shapes(snap, config.seats, width, owidth, where)
        if not np.array_equal(snap.present, np.array([s in d.seated for s in range(config.seats)])):
            raise _fail("wire", f"{where}: present does not match the seats held")
        ids = snap.objects[:, 0].tolist()
        if ids != sorted(set(ids)):
            raise _fail("wire", f"{where}: object ids are not unique and in creation order")
        for row in snap.objects.tolist():
            old = alive.get(row[0])
            if old is not None and old != row:
                raise _fail("wire", f"{where}: object {row[0]} changed while alive (retire it, add a new id)")
            if old is None and row[0] <= newest:
                raise _fail("wire", f"{where}: object id {row[0]} reused or not growing (newest was {newest})")
        alive = {row[0]: row for row in snap.objects.tolist()}
        newest = max([newest, *ids])
        message = _keyframe(snap) if prev is None or step % 50 == 0 else _delta(prev, snap, motion)
        client.apply(msgpack.unpackb(msgpack.packb(message), raw=False))
        want_players = {i: row for i, row in enumerate(snap.players.tolist()) if snap.present[i]}
        if client.players != want_players or client.objects != alive:
            raise _fail("wire", f"{where}: a client rebuilding from the wire does not have the snapshot")
        prev = snap
        if outcome.finished:
            break
    room.close()


def _check_shapes(snap: Snapshot, seats: int, width: int, owidth: int, where: str) -> None:
    if snap.players.dtype != np.int32 or snap.objects.dtype != np.int32:
        raise _fail("wire", f"{where}: players and objects are int32 arrays (wire units)")
    if snap.players.shape != (seats, width) or snap.present.shape != (seats,):
        raise _fail("wire", f"{where}: players is {snap.players.shape}, want ({seats}, {width}) for the columns")
    if snap.objects.ndim != 2 or snap.objects.shape[1] != owidth:
        raise _fail("wire", f"{where}: objects is {snap.objects.shape}, want (n, {owidth}) for the object columns")


def _keyframe(snap: Snapshot) -> dict[str, Any]:
    idx = np.flatnonzero(snap.present).tolist()
    return {"t": "keyframe", "n": snap.tick, "players": [[i, *snap.players[i].tolist()] for i in idx],
            "objects": snap.objects.tolist()}


def _delta(prev: Snapshot, snap: Snapshot, motion: int) -> dict[str, Any]:
    """A delta as docs/protocol.md describes it: changed motion and status columns, seats gone,
    objects added (``o+``) and removed (``o-``)."""
    msg: dict[str, Any] = {"t": "delta", "n": snap.tick, "p": [], "s": [], "gone": []}
    for i in range(len(snap.present)):
        row, old = snap.players[i].tolist(), prev.players[i].tolist()
        if not snap.present[i]:
            if prev.present[i]:
                msg["gone"].append(i)
            continue
        fresh = not prev.present[i]
        if fresh or row[:motion] != old[:motion]:
            msg["p"].append([i, *row[:motion]])
        if fresh or row[motion:] != old[motion:]:
            msg["s"].append([i, *row[motion:]])
    old_ids = set(prev.objects[:, 0].tolist())
    msg["o+"] = [row for row in snap.objects.tolist() if row[0] not in old_ids]
    new_ids = set(snap.objects[:, 0].tolist())
    msg["o-"] = [ident for ident in sorted(old_ids) if ident not in new_ids]
    return msg


class _DocClient:
    def __init__(self, width: int, motion: int) -> None:
        self.width, self.motion = width, motion
        self.players: dict[int, list[int]] = {}
        self.objects: dict[int, list[int]] = {}

    def apply(self, msg: dict[str, Any]) -> None:
        if msg["t"] == "keyframe":
            self.players = {row[0]: row[1:] for row in msg["players"]}
            self.objects = {row[0]: row for row in msg["objects"]}
            return
        for row in msg["p"]:
            self.players.setdefault(row[0], [0] * self.width)[: self.motion] = row[1:]
        for row in msg["s"]:
            self.players.setdefault(row[0], [0] * self.width)[self.motion:] = row[1:]
        for seat in msg["gone"]:
            self.players.pop(seat, None)
        for row in msg["o+"]:
            self.objects[row[0]] = row
        for ident in msg["o-"]:
            self.objects.pop(ident, None)


def check_input_bounds(mode: type[GameMode[Any]], *, scenario: Scenario = Scenario(), **_: Any) -> None:
    schema = mode.input_schema
    config = _configure(mode, 3, scenario)
    room = mode(config)
    for seat in range(config.seats):
        room.join(seat, seat % config.teams if config.teams else 0)
    seq = 0
    for k, f in enumerate(schema.fields):
        for label, value in _bounds(f):
            seq += 1
            values = [g.default_value for g in schema.fields]
            values[k] = value
            try:
                row = schema.decode_row([seq, *values])
            except Exception as exc:  # noqa: BLE001
                raise _fail("input_bounds", f"{f.name} at its {label} ({value!r}) does not decode: {exc}") from None
            try:
                outcome = room.step({seat: row for seat in range(config.seats)})
                room.snapshot()
            except Exception as exc:  # noqa: BLE001
                raise _fail("input_bounds", f"step raised with {f.name} at its {label} ({value!r}): "
                                            f"{type(exc).__name__}: {exc}") from exc
            if outcome.finished:
                room.close()
                room = mode(config)
                for seat in range(config.seats):
                    room.join(seat, seat % config.teams if config.teams else 0)
    room.close()


def _bounds(f: Field) -> list[tuple[str, Any]]:
    if isinstance(f, (IntField, FloatField)):
        return [("low bound", f.lo), ("high bound", f.hi), ("default", f.default_value)]
    if isinstance(f, BoolField):
        return [("low bound", False), ("high bound", True)]
    if isinstance(f, EnumField):
        return [("low bound", 0), ("high bound", len(f.choices) - 1)]
    if isinstance(f, MoveField):
        return [("default (no move)", -1), ("low bound", 0), ("high bound", f.count - 1)]
    return []


def check_joins_and_leaves(mode: type[GameMode[Any]], *, steps: int = 200, scenario: Scenario = Scenario(),
                           **_: Any) -> None:
    policy = scenario.policy or random_policy(mode)
    config = _configure(mode, 9, scenario)
    room = mode(config)
    d = Driver(room, random.Random(9), policy)
    d.join(0)
    for step in range(steps):
        seat = step % config.seats
        try:
            if seat in d.seated and len(d.seated) > 1:
                d.leave(seat)
            elif seat not in d.seated:
                d.join(seat)
            if step % 7 == 3 and seat in d.seated and len(d.seated) > 1:  # leave and rejoin before one step
                d.leave(seat)
                d.join(seat)
            outcome = room.step(d.inputs(room.snapshot()))
            snap = room.snapshot()
        except Exception as exc:  # noqa: BLE001
            raise _fail("joins_and_leaves", f"step {step + 1} raised: {type(exc).__name__}: {exc}") from exc
        want = np.array([s in d.seated for s in range(config.seats)])
        if not np.array_equal(snap.present, want):
            raise _fail("joins_and_leaves", f"step {step + 1}: present {snap.present.tolist()} "
                                            f"but seated {sorted(d.seated)}")
        if outcome.finished:
            room.close()
            room = mode(config)
            d = Driver(room, random.Random(step), policy)
            d.join(0)
    room.close()


def check_results(mode: type[GameMode[Any]], *, scenarios: Mapping[str, Scenario] | None = None,
                  steps: int = 200, **_: Any) -> None:
    scenarios = dict(scenarios or {})
    # The engine's reasons can come at any moment: after a few steps, mid-way, late.
    base = scenarios.get("", Scenario())
    for reason in ENGINE_REASONS:
        for at in (0, 1, steps // 2):
            config = _configure(mode, 21 + at, base)
            d = _play(mode, config, 21 + at, at, base.policy or random_policy(mode))
            _check_rows(mode, d.mode, config, reason, seated=d.seated)
            d.mode.close()
    for reason in mode.result_shape.reasons:
        scenario = scenarios.get(reason)
        candidates = [scenario] if scenario is not None else _random_scenarios(mode)
        reached = False
        for cand in candidates:
            config = _configure(mode, 31, cand)
            d = _play(mode, config, 31, cand.max_steps, cand.policy or random_policy(mode), churn=0.0)
            finished = next((entry[0] for entry in reversed(d.log) if len(entry) == 6 and entry[0]), None)
            if finished == reason:
                _check_rows(mode, d.mode, config, reason, seated=d.seated)
                reached = True
            d.mode.close()
            if reached:
                break
        if not reached:
            raise _fail("results", f"the finish reason {reason!r} was not reached: give run_check a "
                                   f"Scenario that reaches it (scenarios={{{reason!r}: Scenario(...)}})")


def _random_scenarios(mode: type[GameMode[Any]]) -> list[Scenario]:
    """Options all at their lows, then all at their highs (random play, a bounded number of steps)."""
    lows = {o.name: getattr(o, "lo", o.default_value) for o in mode.options}
    highs = {o.name: getattr(o, "hi", o.default_value) for o in mode.options}
    return [Scenario(options=lows, max_steps=5000), Scenario(options=highs, max_steps=5000)]


def _check_rows(mode: type[GameMode[Any]], room: GameMode[Any], config: ModeConfig, reason: str,
                seated: set[int]) -> None:
    shape = mode.result_shape
    rows = room.results()
    seats = [r.seat for r in rows]
    if len(set(seats)) != len(seats) or not all(0 <= s < config.seats for s in seats):
        raise _fail("results", f"{reason}: seats {seats} are not distinct seats of the room")
    missing = seated - set(seats)
    if missing:
        raise _fail("results", f"{reason}: seats {sorted(missing)} are held but have no result row")
    players = []
    for r in rows:
        if set(r.stats) - set(shape.stats):
            raise _fail("results", f"{reason}: seat {r.seat} has stats {sorted(r.stats)}, "
                                   f"the declaration lists {list(shape.stats)}")
        if not 0 <= r.team < max(config.teams, 1):
            raise _fail("results", f"{reason}: seat {r.seat} is on team {r.team} of {config.teams}")
        players.append(PlayerRow(player_id=f"p{r.seat}", seat=r.seat, name=f"p{r.seat}", team=r.team,
                                 score=r.score, time_played_s=r.time_played_s, stats=dict(r.stats)))
    try:
        result = MatchResult.create(match_id="conformance", mode=mode.name, seed=config.seed, server_id="suite",
                                    reason=reason, ticks=room.snapshot().tick,
                                    duration_s=round(room.snapshot().tick / config.tick_hz, 3), started_at_us=1,
                                    ended_at_us=2, teams=config.teams, players=players)
        if MatchResult.parse(result.encode()) != result:
            raise _fail("results", f"{reason}: the result does not round-trip through its encoding")
    except (ResultError, TypeError, ValueError) as exc:
        raise _fail("results", f"{reason}: not a valid match result: {exc}") from None


def _close(*modes: GameMode[Any]) -> None:
    for m in modes:
        m.close()


_RUNNERS: Final[dict[str, Callable[..., None]]] = {
    "declaration": check_declaration_loads, "determinism": check_determinism, "purity": check_purity,
    "step_many": check_step_many,
    "wire": check_wire, "input_bounds": check_input_bounds, "joins_and_leaves": check_joins_and_leaves,
    "results": check_results,
}


def run_check(check: str, mode: type[GameMode[Any]], *, scenarios: Mapping[str, Scenario] | None = None,
              **kwargs: Any) -> None:
    """Run one check of :data:`CHECKS` on ``mode``. ``scenarios`` maps finish reasons to the
    :class:`Scenario` that reaches them; the one under ``""`` is how every other check plays."""
    if check not in _RUNNERS:
        raise ValueError(f"unknown check {check!r}; the checks are {', '.join(CHECKS)}")
    scenarios = scenarios or {}
    if check == "results":
        check_results(mode, scenarios=scenarios, **kwargs)
    else:
        _RUNNERS[check](mode, scenario=scenarios.get("", Scenario()), **kwargs)


def check_mode(mode: type[GameMode[Any]], *, scenarios: Mapping[str, Scenario] | None = None) -> None:
    """Every check of :data:`CHECKS`, in order; the first failure raises :class:`ConformanceError`."""
    for check in CHECKS:
        run_check(check, mode, scenarios=scenarios)
