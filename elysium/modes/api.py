"""The game-mode API: what a mode declares and the hooks the engine calls. Pure: no I/O.

A game mode is a subclass of :class:`GameMode`. It declares, as class-level data, its
``name`` and ``api_version``, its ``input_schema`` (:mod:`elysium.modes.schema`), its
replicated ``columns`` (:mod:`elysium.modes.columns`), its ``options`` with bounds
(:mod:`elysium.modes.options`), its ``result_shape``, and the bounds of seats, teams and
tick rate a room of it may have. The engine (the game server's room) owns seats,
connections, the lifecycle and the wire, and talks to a mode only through the methods
below. docs/modes.md is the guide and the reference.

A mode is pure and deterministic: its only randomness is the generator
:meth:`ModeConfig.rng` returns (seeded from the room's seed), it reads no clock (time is
``1 / tick_hz`` per step) and does no I/O, so the same seed, joins and inputs give the
same states every time (``elysium.testing.modes`` checks it).
"""

from __future__ import annotations

import abc
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, ClassVar, Final, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from elysium.modes.columns import Columns
from elysium.modes.options import Option, OptionValue, resolve
from elysium.modes.schema import InputSchema

# The version of this API. A mode declares the version it was written for; a server loads
# a mode only when the versions are equal. Additions a mode may ignore (a new optional hook
# with a default, a new declaration with a default) keep the version; anything that changes
# or removes what an existing mode relies on bumps it (docs/modes.md, "Versioning").
API_VERSION: Final = 1

# Finish reasons the engine itself gives (beside the mode's own, ``result_shape.reasons``).
ENGINE_REASONS: Final = ("abandoned", "shutdown", "error")

IntArray = npt.NDArray[np.int32]
Event = dict[str, Any]  # msgpack-able; ``k`` names the event's kind
InputT = TypeVar("InputT", bound=tuple[Any, ...])


@dataclass(frozen=True, slots=True)
class ModeConfig:
    """One room's settings, as the mode sees them.

    ``options`` holds every declared option (the defaults filled in by the engine, or by
    :class:`GameMode` itself when a test builds a config by hand).
    """

    seats: int
    tick_hz: int
    seed: int
    teams: int = 0  # 0: free for all; otherwise the number of teams
    options: Mapping[str, OptionValue] = field(default_factory=lambda: MappingProxyType({}))

    def rng(self) -> np.random.Generator:
        """The room's one random source: a new generator seeded from ``seed``. Call it once."""
        return np.random.default_rng(self.seed)

    @property
    def dt(self) -> float:
        """Seconds of game time per step."""
        return 1.0 / self.tick_hz

    def int_option(self, name: str) -> int:
        value = self.options[name]
        assert isinstance(value, int) and not isinstance(value, bool), name
        return value

    def float_option(self, name: str) -> float:
        value = self.options[name]
        assert isinstance(value, float), name
        return value

    def bool_option(self, name: str) -> bool:
        value = self.options[name]
        assert isinstance(value, bool), name
        return value

    def choice_option(self, name: str) -> str:
        value = self.options[name]
        assert isinstance(value, str), name
        return value


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The replicated state in wire units.

    ``players`` has one row per seat (the mode's player columns); rows of absent seats are
    meaningless and ``present`` masks them. ``objects`` has one row per live object (the
    object columns, column 0 the object id); an object's row never changes while it lives,
    so a delta only says which objects appeared and which went away. Return the same
    ``objects`` array object while nothing changed: the engine skips the object diff then.
    """

    tick: int
    players: IntArray
    present: npt.NDArray[np.bool_]
    objects: IntArray


@dataclass(slots=True)
class StepOutcome:
    """What one step produced: the tick's events (sent to every player and the feed) and,
    once the match is over, the reason (one of ``result_shape.reasons``)."""

    events: list[Event] = field(default_factory=list)
    finished: str | None = None
    # Events for one seat alone (seat -> events), such as why its move was refused: sent to
    # that seat's connection only, never to other players nor to the spectator feed.
    private: dict[int, list[Event]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One seat's line in the match result (the engine adds the player's id and name).

    ``stats`` are the mode's counters named in ``result_shape.stats`` (the arena's kills and
    deaths); ``score`` decides placements by the shared standings rule
    (:mod:`elysium.results`): per team when the room has teams, per player otherwise.
    """

    seat: int
    score: int
    team: int = 0
    time_played_s: float = 0.0
    stats: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class ResultShape:
    """What a mode's results hold.

    ``reasons``: the finish reasons the mode's step may give (the engine adds
    ``abandoned``, ``shutdown`` and ``error``). ``stats``: the counters every row carries.
    ``tiebreak``: stats that order rows of equal score, lower first (placements still tie).
    ``score``: what the score counts, for people reading the declaration.
    """

    reasons: tuple[str, ...] = ("score", "time")
    stats: tuple[str, ...] = ()
    tiebreak: tuple[str, ...] = ()
    score: str = "points"

    def to_json(self) -> dict[str, Any]:
        return {"reasons": [*self.reasons, *ENGINE_REASONS], "stats": list(self.stats),
                "tiebreak": list(self.tiebreak), "score": self.score}


class ModeFull(Exception):
    """The mode has no room for another match on this server (the server refuses the join)."""


class JoinRejected(Exception):
    """Raised by :meth:`GameMode.check_join`: the join is refused with ``join_rejected`` and
    this message (at most 200 characters are sent)."""


class GameMode(abc.ABC, Generic[InputT]):
    """A game mode. Subclass it, declare the class-level data, implement the abstract methods.

    ``InputT`` is the row type of ``input_schema`` (a named tuple, ``seq`` first).
    """

    # --- declarations (class-level data; checked when the mode is loaded) ----------------
    name: ClassVar[str]  # 1-24 of a-z, 0-9, '-', starting with a letter
    api_version: ClassVar[int] = API_VERSION
    input_schema: ClassVar[InputSchema]
    columns: ClassVar[Columns]
    options: ClassVar[tuple[Option, ...]] = ()
    result_shape: ClassVar[ResultShape] = ResultShape()
    seat_range: ClassVar[tuple[int, int]] = (1, 100)  # seats a room may have
    team_range: ClassVar[tuple[int, int]] = (0, 16)  # teams a room may have (0: free for all)
    tick_hz_range: ClassVar[tuple[int, int]] = (1, 60)
    # What a join message may carry in ``choice`` (a team, a loadout); see check_join.
    join_choice: ClassVar[tuple[Option, ...]] = ()
    # Static data the same for every match (welcome.map; the per-match part is map_info()).
    MAP: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    # Hidden information: True when what a seat may see differs per seat. The engine then
    # asks view_key(seat) of each seat every tick, builds view(key) once per distinct key,
    # encodes its delta once and sends it to every seat of that key; snapshot() (the full
    # view) goes to the spectator feed only, held back by spectator_delay_s().
    per_seat_views: ClassVar[bool] = False

    # Derived from ``columns`` for every subclass (the engine's hot path reads these).
    player_columns: ClassVar[tuple[str, ...]]
    motion_columns: ClassVar[int]
    object_columns: ClassVar[tuple[str, ...]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        columns = cls.__dict__.get("columns")
        if isinstance(columns, Columns):
            cls.player_columns = columns.player_names
            cls.motion_columns = columns.motion
            cls.object_columns = columns.object_names

    @classmethod
    def column_layout(cls) -> dict[str, Any]:
        """The column layout a welcome (and a watcher's hello) carries, without a match."""
        return cls.columns.to_json()

    @classmethod
    def configure(cls, *, seats: int, tick_hz: int, seed: int, teams: int = 0,
                  options: Mapping[str, Any] | None = None) -> ModeConfig:
        """A config with the options checked against the declaration and defaults filled in
        (raises :class:`~elysium.modes.options.OptionError`)."""
        return ModeConfig(seats=seats, tick_hz=tick_hz, seed=seed, teams=teams,
                          options=MappingProxyType(resolve(cls.options, options or {})))

    @classmethod
    def factory(cls, capacity: int) -> ModeFactory:
        """What makes this mode's rooms on a server offering ``capacity`` seats in all."""
        return ModeFactory(cls, capacity)

    def __init__(self, config: ModeConfig) -> None:
        self.config = replace(config, options=MappingProxyType(resolve(type(self).options, config.options)))

    # --- seats -------------------------------------------------------------------------

    @abc.abstractmethod
    def join(self, seat: int, team: int) -> None:
        """A player takes ``seat`` (free until now) on ``team`` (0 in a free-for-all)."""

    @abc.abstractmethod
    def leave(self, seat: int) -> None:
        """The seat is given up for good (a leave, or the reconnect grace ran out)."""

    # --- the step ----------------------------------------------------------------------

    @abc.abstractmethod
    def step(self, inputs: Mapping[int, InputT]) -> StepOutcome:
        """Advance one fixed step, applying at most one input per present seat.

        A connected seat always has an input (the last one repeated when nothing new came,
        see ``hold`` in :mod:`elysium.modes.schema`); a dropped seat has none.
        """

    @classmethod
    def step_many(cls, modes: Sequence[GameMode[InputT]],
                  inputs: Sequence[Mapping[int, InputT]]) -> list[StepOutcome]:
        """Step several rooms of this mode that are due at the same moment.

        The result must equal stepping each alone; a mode may override this to do the work
        for all of them in one vectorised pass. If it raises, the engine steps each room
        alone (``step``) to find the one that fails, so an override must not have changed
        a room it raises for before it raises (check first, then change).
        """
        return [mode.step(room_inputs) for mode, room_inputs in zip(modes, inputs)]

    # --- views -------------------------------------------------------------------------

    @abc.abstractmethod
    def snapshot(self) -> Snapshot:
        """The full replicated state now (what spectators and, without hidden information,
        every player see)."""

    @abc.abstractmethod
    def results(self) -> list[ResultRow]:
        """A row per seat that played (present now or earlier); the engine keeps the rows of
        seats still held at the end."""

    def map_info(self) -> dict[str, Any]:
        """``welcome.map``: the static ``MAP`` and this match's own part (limits, say)."""
        return {**self.MAP, **self.config.options}

    # --- per-seat views (only with ``per_seat_views``) ------------------------------------

    def view_key(self, seat: int) -> Hashable:
        """What ``seat`` may see now, as a key: seats whose views coincide share one (a card
        game: the seat while it holds cards, one public key for seats holding none). Never
        None, which names the full view."""
        return seat

    def view(self, key: Hashable) -> Snapshot:
        """The state the seats of view ``key`` see (None: the full view, ``snapshot()``).
        Return the same arrays while they do not change: the engine skips diffing them."""
        return self.snapshot()

    def spectator_delay_s(self) -> float:
        """The least delay, in seconds, relays must hold this match's feed back by (0: none):
        a mode with hidden information sets it so the full view shows nothing still hidden."""
        return 0.0

    def close(self) -> None:
        """The room is gone: release what the mode holds."""

    # --- optional hooks (defaults do nothing) ------------------------------------------

    def check_join(self, seat: int, team: int, choice: Mapping[str, OptionValue]) -> int:
        """Join validation: a player asks for ``seat`` with the engine's ``team`` and the join
        message's ``choice`` (checked against ``join_choice`` and defaulted). Return the team
        to seat them on, or raise :class:`JoinRejected`. Called before :meth:`join`."""
        return team

    def on_events(self, tick: int, events: Sequence[Event]) -> list[Event]:
        """Per-tick events: called after each step with every event of the tick so far (the
        engine's ``start``, ``join``, ``leave``, ``drop``, ``back`` and the step's own).
        Returns events to add to the tick."""
        return []

    def on_drop(self, seat: int) -> None:
        """The seat's connection went away; the seat is held for the reconnect grace."""

    def on_reconnect(self, seat: int) -> None:
        """A dropped seat's player is back (a resume, or a new join token)."""

    def on_end(self, reason: str) -> list[Event]:
        """End of match, for any reason (the mode's own, or ``abandoned``, ``shutdown``):
        called once, before :meth:`results`. Returns events to send with the ``end``."""
        return []


class ModeFactory:
    """Makes the rooms of one mode on one server; the default instantiates the mode per room.

    ``create`` gets the room's config and its phase on the tick grid: rooms of one tick rate
    and one phase fall due together and are stepped in one :meth:`GameMode.step_many` call,
    so a mode may let them share state (the arena shares one world). It may raise
    :class:`ModeFull`.
    """

    def __init__(self, mode: type[GameMode[Any]], capacity: int) -> None:
        self.mode = mode
        self.capacity = capacity  # seats the server offers in all

    def create(self, config: ModeConfig, phase: int) -> GameMode[Any]:
        return self.mode(config)
