"""Game modes, looked up by name."""

from __future__ import annotations

from gameserver.modes.arena import Arena
from gameserver.modes.base import GameMode, ModeConfig, PlayerResult, Snapshot, StepOutcome

MODES: dict[str, type[GameMode]] = {Arena.name: Arena}

__all__ = ["MODES", "Arena", "GameMode", "ModeConfig", "PlayerResult", "Snapshot", "StepOutcome"]
