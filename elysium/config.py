"""Settings loaded from ``ELYSIUM_*`` environment variables into frozen, validated objects.

Each service declares one frozen dataclass whose fields are made with :func:`setting`.
:func:`load` reads the environment once at start-up; a bad value raises
:class:`ConfigError` naming the variable, so the process stops with a clear message
instead of misbehaving later. :func:`describe` lists every variable with its default and
unit; the README's configuration table is checked against it by a test.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from elysium import cors

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration variable is missing or has a bad value."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


@dataclass(frozen=True)
class SettingInfo:
    env: str
    help: str
    unit: str
    secret: bool
    check: Callable[[Any], str | None] | None


def setting(
    env: str,
    default: Any,
    help: str,
    *,
    unit: str = "",
    secret: bool = False,
    check: Callable[[Any], str | None] | None = None,
) -> Any:
    """Declare one settings field bound to the environment variable ``env``.

    ``check`` returns a message when the parsed value is unacceptable, else None.
    """
    info = SettingInfo(env=env, help=help, unit=unit, secret=secret, check=check)
    return dataclasses.field(default=default, metadata={"elysium": info})


def between(lo: float, hi: float) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not lo <= value <= hi:
            return f"must be between {lo:g} and {hi:g}"
        return None

    return check


def positive(value: Any) -> str | None:
    return None if value > 0 else "must be greater than 0"


def non_negative(value: Any) -> str | None:
    return None if value >= 0 else "must be 0 or more"


def one_of(*choices: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


def cors_setting() -> Any:
    """``ELYSIUM_CORS_ORIGINS``, one setting every HTTP-serving service declares (see :mod:`elysium.cors`)."""
    return setting("ELYSIUM_CORS_ORIGINS", (), "Browser origins allowed to call the service (CORS): a comma list of "
                   "origins such as https://play.example.com, or *; unset, no CORS headers are sent",
                   check=cors.check_origins)


REDIS_SCHEMES = ("redis", "rediss", "unix")


def http_url(value: Any) -> str | None:
    """Why ``value`` is not a service's ``http(s)://host[:port][/path]`` base URL, or None (unset passes; ``validate`` says)."""
    if not value:
        return None
    shape = "must be an http(s) URL such as http://127.0.0.1:7380"
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return f"{shape} (the port is not a number from 1 to 65535)"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return shape
    if parts.query or parts.fragment or parts.username or parts.password:
        return f"{shape} (no credentials, query or fragment)"
    return None


def redis_url(value: Any) -> str | None:
    """The check of ``ELYSIUM_REDIS_URL``: ``redis://``, ``rediss://`` or ``unix://``, with a
    host (or a socket path), a port and a database number that are numbers.

    The empty value passes: each service says itself that the variable is not set.
    """
    if not isinstance(value, str) or not value:
        return None
    shape = ("must be a Redis URL: redis://host:port/db, rediss://host:port/db, unix:///path/to.sock or "
             "redis+sentinel://host:port[,host:port...]/master[/db]")
    if value.lower().startswith("redis+sentinel://"):
        from elysium.redisurls import parse_sentinel

        try:
            parse_sentinel(value)
        except ValueError as exc:
            return f"{shape} ({exc})"
        return None
    try:
        parts = urllib.parse.urlsplit(value)
        port = parts.port
    except ValueError:
        return f"{shape} (the port is not a number from 1 to 65535)"
    if parts.scheme.lower() not in REDIS_SCHEMES:
        return shape
    if parts.scheme.lower() == "unix":
        return None if parts.path else f"{shape} (no socket path)"
    if not parts.hostname:
        return f"{shape} (no host)"
    if port == 0:
        return f"{shape} (the port is not a number from 1 to 65535)"
    db = parts.path.lstrip("/") or "0"
    query_db = urllib.parse.parse_qs(parts.query).get("db")
    for raw in [db, *(query_db or [])]:
        if not raw.isdigit():
            return f"{shape} (the database {raw!r} is not a number)"
    return None


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse(raw: str, kind: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if raw == "":
            return None
        return _parse(raw, args[0])
    if kind is bool:
        low = raw.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError("must be true or false")
    if kind is int:
        try:
            return int(raw.strip())
        except ValueError:
            raise ValueError("must be a whole number") from None
    if kind is float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError("must be a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("must be a finite number")
        return value
    if kind is str:
        return raw
    if origin is tuple:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    raise TypeError(f"unsupported settings type {kind!r}")


def _shown(info: SettingInfo, value: Any) -> str:
    """What an error adds about the bad value: the value itself, unless it is a secret."""
    return "" if info.secret else f"; got {value!r}"


def _fields(cls: type) -> Iterator[tuple[dataclasses.Field[Any], SettingInfo, Any]]:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        info = f.metadata.get("elysium")
        if isinstance(info, SettingInfo):
            yield f, info, hints[f.name]


def load(cls: type[T], environ: Mapping[str, str] | None = None, **overrides: Any) -> T:
    """Build ``cls`` from the environment; keyword overrides win over the environment."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f, info, kind in _fields(cls):
        if f.name in overrides:
            value = overrides.pop(f.name)
        elif info.env in env:
            try:
                value = _parse(env[info.env], kind)
            except ValueError as exc:
                raise ConfigError(info.env, f"{exc}{_shown(info, env[info.env])}") from None
        else:
            value = f.default
        if info.check is not None and value is not None:
            problem = info.check(value)
            if problem:
                raise ConfigError(info.env, f"{problem}{_shown(info, value)}")
        values[f.name] = value
    if overrides:
        raise TypeError(f"unknown settings: {', '.join(sorted(overrides))}")
    obj = cls(**values)
    post = getattr(obj, "validate", None)
    if callable(post):
        post()
    return obj


@dataclass(frozen=True)
class Variable:
    env: str
    default: str
    unit: str
    help: str


def describe(cls: type) -> list[Variable]:
    """Every variable ``cls`` reads, for documentation."""
    out = []
    for f, info, _ in _fields(cls):
        default = f.default
        if isinstance(default, tuple):
            shown = ",".join(default) or "(unset)"
        elif isinstance(default, bool):
            shown = "true" if default else "false"
        elif default is None or default == "":
            shown = "(unset)"
        else:
            shown = str(default)
        out.append(Variable(info.env, shown, info.unit, info.help))
    return out


def redacted(obj: object) -> dict[str, Any]:
    """The settings as a dict safe to log: secrets are masked."""
    out: dict[str, Any] = {}
    for f, info, _ in _fields(type(obj)):
        value = getattr(obj, f.name)
        out[f.name] = "***" if info.secret and value else value
    return out
