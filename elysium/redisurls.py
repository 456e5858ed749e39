"""Redis URLs that name Sentinels rather than a Redis: ``redis+sentinel://`` (``redisclient.py``
connects to them). Pure: parsing only."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

SENTINEL_SCHEME = "redis+sentinel"


@dataclass(frozen=True, slots=True)
class SentinelTarget:
    """What a ``redis+sentinel://`` URL names: the Sentinels, the master's name, the database."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int
    password: str | None


def parse_sentinel(url: str) -> SentinelTarget:
    """The parts of a ``redis+sentinel://`` URL; raises ValueError naming what is wrong."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() != SENTINEL_SCHEME:
        raise ValueError(f"the scheme is not {SENTINEL_SCHEME}")
    netloc = parts.netloc
    password = None
    if "@" in netloc:
        auth, netloc = netloc.rsplit("@", 1)
        password = urllib.parse.unquote(auth.partition(":")[2]) or None
    hosts: list[tuple[str, int]] = []
    for item in netloc.split(","):
        host, sep, port = item.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{item!r} is not host:port")
        hosts.append((host.strip("[]"), int(port)))
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2:
        raise ValueError("the path must be /<master name> or /<master name>/<db>")
    if len(path) == 2 and not path[1].isdigit():
        raise ValueError(f"the database {path[1]!r} is not a number")
    return SentinelTarget(tuple(hosts), path[0], int(path[1]) if len(path) == 2 else 0, password)
