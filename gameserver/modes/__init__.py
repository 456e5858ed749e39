"""The game modes shipped with the game server. A server hosts the modes of the ``elysium.modes``
entry-point group (``elysium.modes.registry``); ``pyproject.toml`` registers these there."""

from __future__ import annotations

from typing import Any

from gameserver.modes.arena import Arena
from gameserver.modes.cards import Cards
from gameserver.modes.base import GameMode, ModeConfig, ModeFactory, ModeFull, ResultRow, Snapshot, StepOutcome
from gameserver.modes.koth import KingOfTheHill

# The modes in this package, by name: what a room built in-process without a server (tests,
# benchmarks) takes its mode from. A server takes its modes from the entry points.
MODES: dict[str, type[GameMode[Any]]] = {Arena.name: Arena, KingOfTheHill.name: KingOfTheHill, Cards.name: Cards}
DEFAULT_MODE = Arena.name  # a join token's room claim that names no mode

__all__ = ["DEFAULT_MODE", "MODES", "Arena", "Cards", "GameMode", "KingOfTheHill", "ModeConfig", "ModeFactory",
           "ModeFull", "ResultRow", "Snapshot", "StepOutcome"]
