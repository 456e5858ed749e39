"""Structured log records: ISO 8601 UTC times to the millisecond, first keys fixed, secrets masked."""

from __future__ import annotations

import json
import logging
import time

from elysium import logs
from tests.listening import ISO_UTC_MS


def record(msg: str, created: float, **extra: object) -> logging.LogRecord:
    r = logging.LogRecord("elysium.test", logging.INFO, __file__, 1, msg, None, None)
    r.created = created
    for key, value in extra.items():
        setattr(r, key, value)
    return r


def test_times_are_iso_8601_utc_with_milliseconds() -> None:
    assert logs.iso_time(0) == "1970-01-01T00:00:00.000Z"
    assert logs.iso_time(1_796_166_000.1239) == "2026-12-01T23:00:00.123Z"
    assert logs.iso_time(1_796_166_059.9999) == "2026-12-01T23:00:59.999Z"  # never rounded into the next second
    out = json.loads(logs.JsonFormatter("svc").format(record("hello", 1_796_166_000.5, password="x", match_id="m")))
    assert list(out)[:5] == ["ts", "level", "service", "logger", "msg"]
    assert out["ts"] == "2026-12-01T23:00:00.500Z" and out["service"] == "svc" and out["msg"] == "hello"
    assert out["password"] == "***" and out["match_id"] == "m"
    before = time.strftime("%Y-%m-%d", time.gmtime())
    now = json.loads(logs.JsonFormatter("svc").format(record("now", time.time())))["ts"]
    assert ISO_UTC_MS.fullmatch(now) and now[:10] in (before, time.strftime("%Y-%m-%d", time.gmtime()))
