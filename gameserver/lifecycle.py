"""A room's lifecycle: every state and every allowed transition, in one table.

    waiting ──start──▶ running ──end──▶ finished ──linger over──▶ disposed
       └────────────── nobody came / shutdown ──────────────────▶ disposed
"""

from __future__ import annotations

import enum


class RoomState(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"
    DISPOSED = "disposed"


TRANSITIONS: dict[RoomState, frozenset[RoomState]] = {
    RoomState.WAITING: frozenset({RoomState.RUNNING, RoomState.DISPOSED}),
    RoomState.RUNNING: frozenset({RoomState.FINISHED}),
    RoomState.FINISHED: frozenset({RoomState.DISPOSED}),
    RoomState.DISPOSED: frozenset(),
}


class LifecycleError(RuntimeError):
    """Our bug: code asked for a transition the table does not allow."""


class Lifecycle:
    __slots__ = ("state", "history")

    def __init__(self) -> None:
        self.state = RoomState.WAITING
        self.history: list[tuple[RoomState, float]] = []

    def to(self, target: RoomState, at: float) -> None:
        if target not in TRANSITIONS[self.state]:
            raise LifecycleError(f"room cannot go from {self.state.value} to {target.value}")
        self.history.append((self.state, at))
        self.state = target

    @property
    def accepts_players(self) -> bool:
        return self.state in (RoomState.WAITING, RoomState.RUNNING)

    @property
    def simulating(self) -> bool:
        return self.state is RoomState.RUNNING
