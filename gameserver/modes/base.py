"""The mode API as the game server's own modes import it: a re-export of :mod:`elysium.modes`.

The interface is public and lives in the kernel, so a mode package needs only ``elysium``
(docs/modes.md). The engine (``gameserver.room``) talks to a mode only through it.
"""

from __future__ import annotations

from elysium.modes.api import (
    API_VERSION,
    Event,
    GameMode,
    IntArray,
    JoinRejected,
    ModeConfig,
    ModeFactory,
    ModeFull,
    ResultRow,
    ResultShape,
    Snapshot,
    StepOutcome,
)

__all__ = ["API_VERSION", "Event", "GameMode", "IntArray", "JoinRejected", "ModeConfig", "ModeFactory", "ModeFull",
           "ResultRow", "ResultShape", "Snapshot", "StepOutcome"]
