"""Request body checks: exact fields, exact types, bounded sizes. No I/O.

A :class:`Field` says what one key must hold; :func:`check` returns the cleaned dict or
raises :class:`Invalid` listing every problem at once (field -> reason). Unknown keys are
always an error, so a typo never silently does nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


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
    cleaned = dict(body)
    for key in body:
        if key not in schema:
            errors[str(key)[:64]] = "is not a known field"
    for key, spec in schema.items():
        if key not in body:
            if spec.required and not partial:
                errors[key] = "is required"
            continue
        kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
        if int in kinds:
            cleaned[key] = whole(body[key])
        problem = _problem(spec, cleaned[key])
        if problem:
            errors[key] = problem
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
