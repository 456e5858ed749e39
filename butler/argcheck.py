"""Strict checking of a tool's arguments against the JSON Schema its :class:`Tool` declares. No I/O.

A model (or the offline parser) may send anything as a tool's arguments, so they are checked
before a tool reads or plans: unknown keys, wrong types (``true`` is not a number, ``"2"`` is not
2), out-of-range numbers and text that is too long are all refused, every problem named at once.

Only the part of JSON Schema the tools' schemas use is understood: ``type`` (``object``,
``string``, ``integer``, ``array``, ``boolean``), ``properties``, ``required``,
``additionalProperties: false``, ``enum``, ``minimum``/``maximum``, ``minLength``/``maxLength``,
``pattern``, ``items``, ``minItems``/``maxItems``, ``minProperties``. A schema using anything else
is our bug, and :func:`supported` says so (a test runs it over every tool).
"""

from __future__ import annotations

import re
from typing import Any

KNOWN_KEYS = frozenset({"type", "properties", "required", "additionalProperties", "enum", "minimum", "maximum",
                        "minLength", "maxLength", "pattern", "items", "minItems", "maxItems", "minProperties",
                        "description"})
_TYPES: dict[str, tuple[type, ...]] = {"object": (dict,), "string": (str,), "integer": (int,), "array": (list,),
                                       "boolean": (bool,)}


def whole(value: Any) -> Any:
    """``value`` with every whole-number float (``50.0``) read as the int it equals, at any depth.

    JSON has one number type, and JSON Schema's ``integer`` is any number without a fraction, so a
    model may well write 50 as ``50.0``; the terms a player is shown then say 50.
    """
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2 ** 53:
        return int(value)
    if isinstance(value, dict):
        return {k: whole(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole(v) for v in value]
    return value


def supported(schema: dict[str, Any], where: str = "") -> list[str]:
    """The keywords of ``schema`` (at any depth) this checker does not understand, named by path."""
    out = [f"{where or '/'}: {k}" for k in schema if k not in KNOWN_KEYS]
    for name, inner in schema.get("properties", {}).items():
        out += supported(inner, f"{where}/{name}")
    if isinstance(schema.get("items"), dict):
        out += supported(schema["items"], f"{where}[]")
    return out


def problems(value: Any, schema: dict[str, Any], where: str = "") -> dict[str, str]:
    """Every way ``value`` breaks ``schema``: path -> reason (empty when it holds)."""
    name = where or "arguments"
    kind = schema.get("type")
    if kind is not None:
        kinds = _TYPES[kind]
        if isinstance(value, bool) and bool not in kinds:
            return {name: f"must be {kind}"}
        value = whole(value) if kind == "integer" else value
        if not isinstance(value, kinds):
            return {name: f"must be {kind}"}
    out: dict[str, str] = {}
    if "enum" in schema and value not in schema["enum"]:
        return {name: "must be one of " + ", ".join(str(v) for v in schema["enum"])}
    if isinstance(value, int) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            out[name] = f"must be at least {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            out[name] = f"must be at most {schema['maximum']}"
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            out[name] = f"must have at least {schema['minLength']} characters"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            out[name] = f"must have at most {schema['maxLength']} characters"
        if "pattern" in schema and not re.fullmatch(schema["pattern"], value):
            out[name] = "has characters or a shape that is not allowed"
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            out[name] = f"must have at least {schema['minItems']} entries"
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            out[name] = f"must have at most {schema['maxItems']} entries"
        if isinstance(schema.get("items"), dict):
            for n, item in enumerate(value):
                out.update(problems(item, schema["items"], f"{name}[{n}]"))
    if isinstance(value, dict):
        props: dict[str, Any] = schema.get("properties", {})
        prefix = f"{where}." if where else ""
        if schema.get("additionalProperties") is False:
            for key in value:
                if key not in props:
                    out[f"{prefix}{str(key)[:64]}"] = "is not a known argument"
        for key in schema.get("required", ()):
            if key not in value:
                out[f"{prefix}{key}"] = "is required"
        for key, inner in props.items():
            if key in value:
                out.update(problems(value[key], inner, f"{prefix}{key}"))
        if len(value) < schema.get("minProperties", 0):
            out[name] = f"must have at least {schema['minProperties']} entries"
    return out
