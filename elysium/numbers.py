"""The one strict way a number is read from a request: query parameters and path segments.

Pure: no I/O. ``str.isdigit()`` and ``int()`` disagree (``"²"`` is a digit to one and not a
number to the other; ``int()`` and ``float()`` also take other scripts' digits, spaces,
underscores, signs, exponents, ``inf`` and ``nan``), so no request input goes through them
directly. :func:`whole` and :func:`decimal` take ASCII digits only (``0-9``, and for
:func:`decimal` one ``.`` between digits), at most :data:`MAX_CHARS` characters, then check
the range, and raise one :class:`NumberError` whose message names the parameter and the
range. Each boundary turns that message into its own refusal (a 400 problem, a websocket
error frame). ``docs/http.md`` states the rule.
"""

from __future__ import annotations

import re

__all__ = ["MAX_CHARS", "NumberError", "decimal", "whole"]

MAX_CHARS = 20  # room for any 64-bit count or tick; a longer value is refused before it is converted
_WHOLE = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")


class NumberError(ValueError):
    """A request value is not a number in range; ``str(exc)`` is safe to show to the peer."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def _shown(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def whole(raw: str, name: str, lo: int, hi: int) -> int:
    """``raw`` as an int from ``lo`` to ``hi`` (both included), written in ASCII digits only."""
    if len(raw) > MAX_CHARS or not _WHOLE.fullmatch(raw) or not lo <= int(raw) <= hi:
        raise NumberError(name, f"{name} must be a whole number from {lo} to {hi}")
    return int(raw)


def decimal(raw: str, name: str, lo: float, hi: float) -> float:
    """``raw`` as a float from ``lo`` to ``hi``: ASCII digits with at most one ``.`` between them."""
    if len(raw) > MAX_CHARS or not _DECIMAL.fullmatch(raw) or not lo <= float(raw) <= hi:
        raise NumberError(name, f"{name} must be a number from {_shown(lo)} to {_shown(hi)} "
                                f"(digits and an optional decimal point)")
    return float(raw)
