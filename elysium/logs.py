"""Structured JSON logging: one JSON object per line on stderr.

Every record starts ``{"ts": "2026-12-01T23:00:00.123Z", "level": ..., "service": ..., "logger": ...,
"msg": ...}``: the time in ISO 8601, UTC, to the millisecond (:func:`iso_time`).

:data:`request_id` holds the id of the HTTP request being served (``elysium.http`` sets it);
:class:`RequestIdFilter` copies it into every record logged while that request runs.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import Any

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_SECRET_WORDS = ("password", "secret", "token", "authorization", "private_key")

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def iso_time(seconds: float) -> str:
    """``seconds`` since the epoch as ISO 8601 in UTC with milliseconds: ``2026-12-01T23:00:00.123Z``."""
    whole = int(seconds)
    millis = int((seconds - whole) * 1000)  # truncated, so a record never shows a later time than it was made
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to records logged while a request is served (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = request_id.get()
        if current is not None and not hasattr(record, "request_id"):
            record.request_id = current
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": iso_time(record.created),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key in _RESERVED or key.startswith("_"):
                continue
            out[key] = "***" if any(w in key.lower() for w in _SECRET_WORDS) else value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, separators=(",", ":"))


def setup(service: str, level: str = "info") -> None:
    """Route the root logger to stderr as JSON lines, once per process."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.Formatter.converter = time.gmtime
