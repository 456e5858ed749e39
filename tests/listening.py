"""Checks of what every service prints: the ``listening`` line and its JSON log records."""

from __future__ import annotations

import json
import re
from typing import Any

from elysium import __version__, listening

ISO_UTC_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def check_listening(line: dict[str, Any], service: str, *, workers: int = 1, id: str | None = None) -> None:
    """``line`` has the one shape of every listening line (``elysium.listening``), for ``service``."""
    assert list(line) == list(listening.KEYS), list(line)
    assert line["event"] == "listening" and line["service"] == service and line["version"] == __version__
    assert isinstance(line["port"], int) and line["port"] > 0 and isinstance(line["pid"], int)
    assert line["url"].endswith(f":{line['port']}") or f":{line['port']}/" in line["url"], line["url"]
    assert isinstance(line["host"], str) and line["host"]
    assert line["workers"] == workers == len(line["pids"])
    if workers == 1:
        assert line["pids"] == [line["pid"]]
    else:
        assert line["pid"] not in line["pids"]  # the supervisor speaks for its replicas
    if id is not None:
        assert line["id"] == id


def check_records(stderr: str) -> list[dict[str, Any]]:
    """Every JSON record on ``stderr`` starts with an ISO 8601 UTC time (ms) and the usual keys; returns them."""
    records = [json.loads(x) for x in stderr.splitlines() if x.startswith("{")]
    assert records
    for r in records:
        assert list(r)[:5] == ["ts", "level", "service", "logger", "msg"], r
        assert ISO_UTC_MS.fullmatch(r["ts"]), r["ts"]
    return records
