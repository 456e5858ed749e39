"""Finding game modes: the ``elysium.modes`` entry-point group, checked at start.

A package adds a mode to an unchanged Elysium install by naming its :class:`GameMode`
subclass in its ``pyproject.toml``::

    [project.entry-points."elysium.modes"]
    my-mode = "my_package.mode:MyMode"

The entry point's name is the mode's name. :func:`load_modes` imports every entry point
(or those ``ELYSIUM_MODES`` names) and checks each declaration (:func:`check_mode`); a
mode that fails to import or declares itself wrongly raises :class:`ModeLoadError`, whose
message is one line naming the mode and what is wrong with it.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Final

from elysium.modes.api import API_VERSION, ENGINE_REASONS, GameMode, ResultShape
from elysium.modes.columns import Columns
from elysium.modes.declaration import MODE_NAME
from elysium.modes.options import Option, check_options
from elysium.modes.schema import FIELD_NAME, InputSchema, SchemaError

GROUP: Final = "elysium.modes"


class ModeLoadError(Exception):
    """A mode cannot be hosted; ``mode`` names it, and the message is one line."""

    def __init__(self, mode: str, problem: str) -> None:
        problem = " ".join(str(problem).split())  # one line
        super().__init__(f"game mode {mode!r}: {problem}")
        self.mode = mode
        self.problem = problem


def check_mode(mode: Any, name: str | None = None) -> type[GameMode[Any]]:
    """Check a mode class's declarations; return it, or raise :class:`ModeLoadError`."""
    label = name or getattr(mode, "name", None) or repr(mode)
    if not (inspect.isclass(mode) and issubclass(mode, GameMode)):
        raise ModeLoadError(label, "is not a GameMode subclass")
    if inspect.isabstract(mode):
        missing = ", ".join(sorted(getattr(mode, "__abstractmethods__", ())))
        raise ModeLoadError(label, f"does not implement {missing}")
    declared = getattr(mode, "name", None)
    if not isinstance(declared, str) or not MODE_NAME.fullmatch(declared):
        raise ModeLoadError(label, "name must be 1-24 of a-z, 0-9, '-' starting with a letter")
    if name is not None and declared != name:
        raise ModeLoadError(label, f"its entry point is named {name!r} but the mode is named {declared!r}")
    if mode.api_version != API_VERSION:
        raise ModeLoadError(label, f"written for mode API {mode.api_version!r}, this server offers {API_VERSION}")
    try:
        _check_declarations(mode)
    except SchemaError as exc:
        raise ModeLoadError(label, str(exc)) from None
    return mode


def _check_declarations(mode: type[GameMode[Any]]) -> None:
    if not isinstance(getattr(mode, "input_schema", None), InputSchema):
        raise SchemaError("input_schema must be an InputSchema")
    columns = getattr(mode, "columns", None)
    if not isinstance(columns, Columns):
        raise SchemaError("columns must be a Columns")
    columns.check()
    options = mode.options
    if not isinstance(options, tuple) or not all(isinstance(o, Option) for o in options):
        raise SchemaError("options must be a tuple of Option")
    check_options(options)
    choice = mode.join_choice
    if not isinstance(choice, tuple) or not all(isinstance(o, Option) for o in choice):
        raise SchemaError("join_choice must be a tuple of Option")
    check_options(choice)
    shape = mode.result_shape
    if not isinstance(shape, ResultShape):
        raise SchemaError("result_shape must be a ResultShape")
    for word in (*shape.reasons, *shape.stats):
        if not isinstance(word, str) or not FIELD_NAME.fullmatch(word):
            raise SchemaError(f"result_shape: {word!r} is not a lower-case word")
    if set(shape.reasons) & set(ENGINE_REASONS):
        raise SchemaError(f"result_shape.reasons may not use the engine's {', '.join(ENGINE_REASONS)}")
    if not set(shape.tiebreak) <= set(shape.stats):
        raise SchemaError("result_shape.tiebreak names stats the rows carry")
    for label, bounds, lo, hi in (("seat_range", mode.seat_range, 1, 1000), ("team_range", mode.team_range, 0, 16),
                                  ("tick_hz_range", mode.tick_hz_range, 1, 60)):
        if (not isinstance(bounds, tuple) or len(bounds) != 2 or not all(type(b) is int for b in bounds)
                or not lo <= bounds[0] <= bounds[1] <= hi):
            raise SchemaError(f"{label} must be (low, high) with {lo} <= low <= high <= {hi}")
    if not isinstance(mode.MAP, Mapping):
        raise SchemaError("MAP must be a mapping")


def enabled_names(text: str) -> list[str] | None:
    """``ELYSIUM_MODES``: comma-separated mode names; empty means every mode found."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    return names or None


def load_modes(enabled: Iterable[str] | None = None,
               found: Iterable[EntryPoint] | None = None) -> dict[str, type[GameMode[Any]]]:
    """The modes to host: every entry point of the group (or those named in ``enabled``),
    imported and checked. Raises :class:`ModeLoadError` for the first that fails."""
    points: dict[str, EntryPoint] = {}
    for point in (entry_points(group=GROUP) if found is None else found):
        points.setdefault(point.name, point)
    wanted = list(points) if enabled is None else list(dict.fromkeys(enabled))
    modes: dict[str, type[GameMode[Any]]] = {}
    for name in wanted:
        if name not in points:
            known = ", ".join(sorted(points)) or "none"
            raise ModeLoadError(name, f"is not installed (modes found: {known})")
        point = points[name]
        try:
            loaded = point.load()
        except Exception as exc:  # noqa: BLE001 - any import failure names the mode
            raise ModeLoadError(name, f"failed to import {point.value}: {type(exc).__name__}: {exc}") from exc
        modes[name] = check_mode(loaded, name)
    if not modes:
        raise ModeLoadError("(none)", f"no game modes found in the {GROUP} entry-point group")
    return modes


def declared_modes(modes: Mapping[str, type[GameMode[Any]]]) -> dict[str, Any]:
    """The heartbeat's ``mode_info``: each mode's declaration as data."""
    from elysium.modes.declaration import declare

    return {name: declare(mode).to_json() for name, mode in sorted(modes.items())}
