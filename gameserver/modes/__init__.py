"""Game modes, looked up by name."""

from __future__ import annotations

from gameserver.modes.arena import Arena
from gameserver.modes.cards import Cards
from gameserver.modes.base import GameMode, ModeConfig, ModeFactory, ModeFull, PlayerResult, Snapshot, StepOutcome

# The modes a server hosts: it accepts rooms of these at join and advertises them in its heartbeat.
MODES: dict[str, type[GameMode]] = {Arena.name: Arena, Cards.name: Cards}
DEFAULT_MODE = Arena.name  # a join token's room claim that names no mode

__all__ = ["DEFAULT_MODE", "MODES", "Arena", "Cards", "GameMode", "ModeConfig", "ModeFactory", "ModeFull", "PlayerResult",
           "Snapshot", "StepOutcome"]
