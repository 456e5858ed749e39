"""Match options a mode declares, with bounds: what a room claim, a queue mode or a custom game may set.

The game server validates a room's options (from the join token's ``room`` claim) against
the mode's declaration before the room exists; the matchmaker validates a queue mode's
options against the declarations the game servers advertise in their heartbeats. One
validator, :func:`resolve`, serves both. No I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Union

from elysium.modes.schema import FIELD_NAME, SchemaError

OptionValue = Union[int, float, bool, str]
MAX_OPTIONS: Final = 32
# Names a room claim uses for the engine's own settings: no option may take them.
RESERVED: Final = frozenset({"mode", "seats", "teams", "roster", "min_players", "seed", "tick_hz",
                             "start_timeout_s", "options", "choice"})


class OptionError(ValueError):
    """An option value outside its declaration; ``name`` is the option."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"options.{name} {problem}")
        self.name = name
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Option:
    name: str
    doc: str = ""
    kind: ClassVar[str] = ""

    @property
    def default_value(self) -> OptionValue:
        raise NotImplementedError

    def check(self) -> None:
        if not FIELD_NAME.fullmatch(self.name) or self.name in RESERVED:
            raise SchemaError(f"option name {self.name!r} must be 1-32 of a-z, 0-9, _ and not one of "
                              f"{', '.join(sorted(RESERVED))}")
        try:
            self.parse(self.default_value)
        except OptionError as exc:
            raise SchemaError(f"option {self.name}: the default {exc.problem}") from None

    def parse(self, value: Any) -> OptionValue:
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.kind, "default": self.default_value}
        if self.doc:
            out["doc"] = self.doc
        return out


@dataclass(frozen=True, slots=True)
class IntOption(Option):
    lo: int = 0
    hi: int = 0
    default: int = 0
    kind: ClassVar[str] = "int"

    @property
    def default_value(self) -> OptionValue:
        return self.default

    def parse(self, value: Any) -> OptionValue:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if type(value) is not int or not self.lo <= value <= self.hi:
            raise OptionError(self.name, f"must be an integer between {self.lo} and {self.hi}")
        return value

    def to_json(self) -> dict[str, Any]:
        return {**Option.to_json(self), "min": self.lo, "max": self.hi}


@dataclass(frozen=True, slots=True)
class FloatOption(Option):
    lo: float = 0.0
    hi: float = 0.0
    default: float = 0.0
    kind: ClassVar[str] = "float"

    @property
    def default_value(self) -> OptionValue:
        return float(self.default)

    def parse(self, value: Any) -> OptionValue:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise OptionError(self.name, "must be a number")
        f = float(value)
        if not math.isfinite(f) or not self.lo <= f <= self.hi:
            raise OptionError(self.name, f"must be between {self.lo:g} and {self.hi:g}")
        return f

    def to_json(self) -> dict[str, Any]:
        return {**Option.to_json(self), "min": float(self.lo), "max": float(self.hi)}


@dataclass(frozen=True, slots=True)
class BoolOption(Option):
    default: bool = False
    kind: ClassVar[str] = "bool"

    @property
    def default_value(self) -> OptionValue:
        return self.default

    def parse(self, value: Any) -> OptionValue:
        if not isinstance(value, bool):
            raise OptionError(self.name, "must be true or false")
        return value


@dataclass(frozen=True, slots=True)
class ChoiceOption(Option):
    choices: tuple[str, ...] = ()
    default: str = ""
    kind: ClassVar[str] = "choice"

    @property
    def default_value(self) -> OptionValue:
        return self.default

    def check(self) -> None:
        if not self.choices or not all(isinstance(c, str) and 0 < len(c) <= 32 for c in self.choices):
            raise SchemaError(f"choice option {self.name}: one or more names of at most 32 characters")
        Option.check(self)

    def parse(self, value: Any) -> OptionValue:
        if not isinstance(value, str) or value not in self.choices:
            raise OptionError(self.name, f"must be one of {', '.join(self.choices)}")
        return value

    def to_json(self) -> dict[str, Any]:
        return {**Option.to_json(self), "choices": list(self.choices)}


def check_options(options: Sequence[Option]) -> None:
    if len(options) > MAX_OPTIONS:
        raise SchemaError(f"at most {MAX_OPTIONS} options")
    names = [o.name for o in options]
    if len(set(names)) != len(names):
        raise SchemaError("option names must be distinct")
    for option in options:
        option.check()


def resolve(declared: Sequence[Option], given: Mapping[str, Any]) -> dict[str, OptionValue]:
    """Every declared option's value: ``given`` checked against its bounds, defaults for the rest.

    An option ``given`` that is not declared raises :class:`OptionError` (so a typo is
    refused, not ignored).
    """
    by_name = {o.name: o for o in declared}
    for name in given:
        if name not in by_name:
            known = ", ".join(sorted(by_name)) or "none"
            raise OptionError(str(name)[:32], f"is not an option of this mode (its options: {known})")
    return {o.name: (o.parse(given[o.name]) if o.name in given else o.default_value) for o in declared}


def option_from_json(raw: Any) -> Option:
    """The strict parser of :meth:`Option.to_json` (a heartbeat's mode declaration)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise SchemaError("an option is an object with a name")
    name, kind, doc = raw["name"], raw.get("type"), raw.get("doc", "")
    if not isinstance(doc, str):
        raise SchemaError(f"option {name}: doc is a string")
    option: Option
    try:
        if kind == "int":
            option = IntOption(name, doc, lo=_whole(raw["min"]), hi=_whole(raw["max"]), default=_whole(raw["default"]))
        elif kind == "float":
            option = FloatOption(name, doc, lo=_real(raw["min"]), hi=_real(raw["max"]), default=_real(raw["default"]))
        elif kind == "bool":
            if not isinstance(raw["default"], bool):
                raise SchemaError(f"option {name}: default is a boolean")
            option = BoolOption(name, doc, default=raw["default"])
        elif kind == "choice":
            choices = raw["choices"]
            if not isinstance(choices, list) or not isinstance(raw["default"], str):
                raise SchemaError(f"option {name}: choices are a list of names")
            option = ChoiceOption(name, doc, choices=tuple(choices), default=raw["default"])
        else:
            raise SchemaError(f"option {name}: unknown type {str(kind)[:16]!r}")
    except KeyError as exc:
        raise SchemaError(f"option {name}: missing {exc.args[0]}") from None
    except OptionError as exc:
        raise SchemaError(str(exc)) from None
    option.check()
    return option


def _whole(value: Any) -> int:
    if type(value) is not int:
        raise SchemaError("bounds of an int option are integers")
    return value


def _real(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SchemaError("bounds of a float option are finite numbers")
    return float(value)
