"""Request body checks: exact fields, exact types, bounded sizes. No I/O.

A :class:`Field` says what one key must hold; :func:`check` returns the cleaned dict or
raises :class:`Invalid` listing every problem at once (field -> reason). Unknown keys are
always an error, so a typo never silently does nothing. No string anywhere may hold a lone
surrogate (it is not text, and neither BSON nor argon2 can encode it).

The text rules shared by the routes live here too: :func:`name_problem` (display names),
:func:`password_problem` (new passwords) and :func:`document_problem` (free-form JSON stored
in MongoDB, such as profile settings).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


_SURROGATE = re.compile("[\ud800-\udfff]")
# Characters that are not visible text: controls (Cc: NUL, newline, DEL, C1), format characters
# (Cf: the bidi overrides and isolates U+202A-U+202E and U+2066-U+2069, zero-width characters,
# soft hyphen), line and paragraph separators, surrogates.
_INVISIBLE = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))
NAME_MARKUP = "<>"
INT64 = (-(2 ** 63), 2 ** 63 - 1)
MAX_DOCUMENT_DEPTH = 16


def _invisible(text: str) -> str | None:
    """The first character of ``text`` that is not visible text, as U+XXXX, or None."""
    for ch in text:
        if unicodedata.category(ch) in _INVISIBLE:
            return f"U+{ord(ch):04X}"
    return None


def name_problem(value: Any) -> str | None:
    """A display name: visible text only (already NFC), no ``<`` or ``>``, not blank."""
    if not isinstance(value, str):
        return None
    bad = _invisible(value)
    if bad:
        return f"must not contain control or format characters (found {bad})"
    if any(ch in NAME_MARKUP for ch in value):
        return "must not contain < or >"
    if not value.strip():
        return "must not be blank"
    return None


def password_problem(value: Any) -> str | None:
    """A new password: no control characters (Cc) at all, and not only white space."""
    if not isinstance(value, str):
        return None
    for ch in value:
        if unicodedata.category(ch) == "Cc":
            return f"must not contain control characters (found U+{ord(ch):04X})"
    if not value.strip():
        return "must not be only white space"
    return None


def _key_problem(key: str) -> str | None:
    if not key:
        return "must not be empty"
    if key.startswith("$"):
        return "must not start with $"
    if "." in key:
        return "must not contain ."
    if "\x00" in key:
        return "must not contain NUL"
    if _SURROGATE.search(key):
        return "is not valid Unicode (it holds a lone surrogate)"
    return None


def document_problem(value: Any, path: str = "", depth: int = 1) -> str | None:
    """Why a JSON value cannot be stored as it is in MongoDB, naming where; or None.

    Keys at any depth may not be empty, start with ``$``, or hold ``.`` or NUL; whole numbers
    must fit in int64; objects and arrays nest at most :data:`MAX_DOCUMENT_DEPTH` deep.
    """
    where = path or "the value"
    if isinstance(value, dict):
        if depth > MAX_DOCUMENT_DEPTH:
            return f"nests deeper than {MAX_DOCUMENT_DEPTH} levels at {where}"
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            problem = _key_problem(str(key))
            if problem:
                return f"key {json.dumps(str(key)[:64])} at {where} {problem}"
            problem = document_problem(item, inner, depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        if depth > MAX_DOCUMENT_DEPTH:
            return f"nests deeper than {MAX_DOCUMENT_DEPTH} levels at {where}"
        for n, item in enumerate(value):
            problem = document_problem(item, f"{path}[{n}]", depth + 1)
            if problem:
                return problem
    elif isinstance(value, int) and not isinstance(value, bool):
        if not INT64[0] <= value <= INT64[1]:
            return f"holds a whole number outside the 64-bit range at {where}"
    if isinstance(value, str) and _SURROGATE.search(value):
        return f"holds text that is not valid Unicode (a lone surrogate) at {where}"
    return None


class Invalid(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Field:
    kind: type | tuple[type, ...]
    required: bool = True
    min: int | None = None  # value for ints, length for strings and lists
    max: int | None = None
    pattern: str | None = None
    choices: tuple[Any, ...] | None = None
    nullable: bool = False
    extra: Callable[[Any], str | None] | None = None
    nfc: bool = False  # a string is normalised to NFC before it is checked, and returned normalised


def whole(value: Any) -> Any:
    """``value`` with a whole-number float (``189.0``) read as the int it equals.

    JSON has one number type and JSON Schema's ``integer`` is any number without a fraction,
    so a client (or a generated one) may write a whole number as ``189.0``; it means 189.
    Floats past 2**53 are left alone: they no longer say which whole number was meant.
    """
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2 ** 53:
        return int(value)
    return value


def _type_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "a whole number", bool: "true or false", dict: "an object", list: "an array"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _problem(spec: Field, value: Any) -> str | None:
    if value is None:
        return None if spec.nullable else "must not be null"
    kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
    if isinstance(value, bool) and bool not in kinds:
        return f"must be {_type_name(spec.kind)}"
    if not isinstance(value, kinds):
        return f"must be {_type_name(spec.kind)}"
    if isinstance(value, str) and _SURROGATE.search(value):
        return "is not valid Unicode text (it holds a lone surrogate)"
    if isinstance(value, int) and not isinstance(value, bool):
        if spec.min is not None and value < spec.min:
            return f"must be at least {spec.min}"
        if spec.max is not None and value > spec.max:
            return f"must be at most {spec.max}"
    if isinstance(value, (str, list, dict)):
        if spec.min is not None and len(value) < spec.min:
            return f"must have at least {spec.min} characters" if isinstance(value, str) else \
                f"must have at least {spec.min} entries"
        if spec.max is not None and len(value) > spec.max:
            return f"must have at most {spec.max} characters" if isinstance(value, str) else \
                f"must have at most {spec.max} entries"
    if spec.pattern is not None and isinstance(value, str) and not re.fullmatch(spec.pattern, value):
        return "has characters or a shape that is not allowed"
    if spec.choices is not None and value not in spec.choices:
        return "must be one of " + ", ".join(str(c) for c in spec.choices)
    if spec.extra is not None:
        return spec.extra(value)
    return None


def check(body: object, schema: Mapping[str, Field], *, partial: bool = False) -> dict[str, Any]:
    """Validate ``body`` against ``schema``; ``partial`` makes every field optional (PATCH)."""
    if not isinstance(body, dict):
        raise Invalid({"": "the body must be a JSON object"})
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for key in body:
        if key not in schema:
            errors[str(key)[:64]] = "is not a known field"
    for key, spec in schema.items():
        if key not in body:
            if spec.required and not partial:
                errors[key] = "is required"
            continue
        value = body[key]
        if spec.nfc and isinstance(value, str) and not _SURROGATE.search(value):
            value = unicodedata.normalize("NFC", value)
        kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
        if int in kinds:
            value = whole(value)
        problem = _problem(spec, value)
        if problem:
            errors[key] = problem
        else:
            cleaned[key] = value
    if errors:
        raise Invalid(errors)
    if partial and not body:
        raise Invalid({"": "give at least one field to change"})
    return cleaned


def json_size(value: Any, limit: int) -> str | None:
    """A message when ``value`` encodes to more than ``limit`` bytes of JSON."""
    try:
        size = len(json.dumps(value, separators=(",", ":")))
    except (TypeError, ValueError):
        return "must be plain JSON"
    return None if size <= limit else f"must encode to at most {limit} bytes of JSON"
