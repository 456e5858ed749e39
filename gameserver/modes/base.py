"""The interface every game mode implements. Modes are pure: no I/O, no clocks, no globals.

A mode owns its simulation state and advances it one fixed step at a time. The engine
(``gameserver.room``) owns seats, connections, the lifecycle and the wire; it talks to a
mode only through :class:`GameMode`. The server makes a mode's rooms through the mode's
:class:`ModeFactory` (``GameMode.factory``), one per registered mode, so a mode may pool
what rooms stepped together share without the server knowing.
"""

from __future__ import annotations

import abc
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from gameserver.protocol import Input

IntArray = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class ModeConfig:
    seats: int
    tick_hz: int
    seed: int
    teams: int = 0  # 0: free for all; otherwise the number of teams
    score_limit: int = 10
    time_limit_s: float = 120.0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The replicated state in wire units.

    ``players`` has one row per seat (``player_columns``); rows of absent seats are
    meaningless and ``present`` masks them. ``objects`` has one row per live object
    (``object_columns``, column 0 the object id); an object's row never changes while it
    lives, so a delta only says which objects appeared and which went away.
    """

    tick: int
    players: IntArray
    present: npt.NDArray[np.bool_]
    objects: IntArray


@dataclass(frozen=True, slots=True)
class PlayerResult:
    seat: int
    score: int
    kills: int
    deaths: int
    time_played_s: float
    team: int


@dataclass(slots=True)
class StepOutcome:
    events: list[dict[str, Any]] = field(default_factory=list)
    finished: str | None = None  # the reason, once the match is over
    # Events only one seat may see (seat -> events), e.g. why its move was refused; sent to
    # that seat's connection alone, never to the others nor to the spectator feed.
    private: dict[int, list[dict[str, Any]]] = field(default_factory=dict)


class ModeFull(Exception):
    """The mode has no room for another match on this server (the server refuses the join)."""


class GameMode(abc.ABC):
    name: ClassVar[str]
    player_columns: ClassVar[tuple[str, ...]]
    motion_columns: ClassVar[int]  # the first n player columns change every move
    object_columns: ClassVar[tuple[str, ...]]
    # The map, the same for every match of the mode (the per-match limits are in map_info()).
    MAP: ClassVar[Mapping[str, Any]]
    # True: what a seat may see differs per seat (hidden information). The engine then asks
    # view_key(seat) for each seat, builds view(key) once per distinct key and tick, encodes
    # its delta once and sends it to every seat of that key; snapshot() (the full view) goes
    # to the spectator feed only. False: one view for all (snapshot()), as the arena.
    per_seat_views: ClassVar[bool] = False

    @classmethod
    def column_layout(cls) -> dict[str, Any]:
        """The column layout a welcome (and a watcher's hello) carries, without a match."""
        return {"player": list(cls.player_columns), "motion": cls.motion_columns, "object": list(cls.object_columns)}

    @classmethod
    def factory(cls, capacity: int) -> ModeFactory:
        """What makes this mode's rooms on a server offering ``capacity`` seats in all."""
        return ModeFactory(cls, capacity)

    def __init__(self, config: ModeConfig) -> None:
        self.config = config

    @abc.abstractmethod
    def join(self, seat: int, team: int) -> None: ...

    @abc.abstractmethod
    def leave(self, seat: int) -> None: ...

    @abc.abstractmethod
    def step(self, inputs: Mapping[int, Input]) -> StepOutcome:
        """Advance one fixed step, applying at most one input per present seat."""

    @classmethod
    def step_many(cls, modes: Sequence[GameMode], inputs: Sequence[Mapping[int, Input]]) -> list[StepOutcome]:
        """Step several rooms of this mode that are due at the same moment.

        The result must equal stepping each alone; a mode may override this to do the work
        for all of them in one vectorised pass.
        """
        return [mode.step(room_inputs) for mode, room_inputs in zip(modes, inputs)]

    def close(self) -> None:
        """The room is gone: release what the mode holds."""

    @abc.abstractmethod
    def snapshot(self) -> Snapshot:
        """The full replicated state (with per-seat views: the full view, for spectators)."""

    def view_key(self, seat: int) -> Hashable:
        """The key of what ``seat`` may see now; seats whose views coincide share one key
        (never None, which names the full view). Asked only when ``per_seat_views``."""
        return seat

    def view(self, key: Hashable) -> Snapshot:
        """The state the seats of view ``key`` see (None: the full view). A mode returns the
        same arrays while they do not change, so the engine skips diffing them."""
        return self.snapshot()

    def spectator_delay_s(self) -> float:
        """The least delay the relays must hold this match's feed back by (0: none). A mode
        with hidden information sets it so the full view shows nothing still hidden live."""
        return 0.0

    @abc.abstractmethod
    def results(self) -> list[PlayerResult]: ...

    @abc.abstractmethod
    def map_info(self) -> dict[str, Any]: ...


class ModeFactory:
    """Makes the rooms of one mode on one server; the default instantiates the mode per room.

    ``create`` gets the room's config and its phase on the tick grid: rooms of one tick rate
    and one phase fall due together and are stepped in one :meth:`GameMode.step_many` call,
    so a mode may let them share state (the arena shares one world). It may raise
    :class:`ModeFull`.
    """

    def __init__(self, mode: type[GameMode], capacity: int) -> None:
        self.mode = mode
        self.capacity = capacity  # seats the server offers in all

    def create(self, config: ModeConfig, phase: int) -> GameMode:
        return self.mode(config)
