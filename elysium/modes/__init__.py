"""The public game-mode API: everything a mode package needs, from the kernel alone.

docs/modes.md builds a mode step by step; ``elysium.testing.modes`` is the conformance
suite a mode's own tests run.
"""

from __future__ import annotations

from elysium.modes.api import (
    API_VERSION,
    ENGINE_REASONS,
    Event,
    GameMode,
    JoinRejected,
    ModeConfig,
    ModeFactory,
    ModeFull,
    ResultRow,
    ResultShape,
    Snapshot,
    StepOutcome,
)
from elysium.modes.columns import Column, Columns, player_columns
from elysium.modes.declaration import ModeDeclaration, RoomSettingError, declare
from elysium.modes.options import BoolOption, ChoiceOption, FloatOption, IntOption, Option, OptionError, OptionValue
from elysium.modes.registry import GROUP, ModeLoadError, check_mode, load_modes
from elysium.modes.schema import (
    BoolField,
    EnumField,
    Field,
    FloatField,
    InputSchema,
    IntField,
    MoveField,
    SchemaError,
)

__all__ = [
    "API_VERSION", "ENGINE_REASONS", "GROUP", "BoolField", "BoolOption", "ChoiceOption", "Column", "Columns",
    "EnumField", "Event", "Field", "FloatField", "FloatOption", "GameMode", "InputSchema", "IntField",
    "IntOption", "JoinRejected", "ModeConfig", "ModeDeclaration", "ModeFactory", "ModeFull", "ModeLoadError",
    "MoveField", "Option", "OptionError", "OptionValue", "ResultRow", "ResultShape", "RoomSettingError",
    "SchemaError", "Snapshot", "StepOutcome", "check_mode", "declare", "load_modes", "player_columns",
]
