"""Server-sent events: the framing of ``POST /v1/chat``'s answer (pure).

Each event is ``event: <type>`` then ``data: <json on one line>`` then a blank line. JSON
never holds a raw newline (``json.dumps`` escapes it), so one ``data:`` line always suffices;
a type is checked to be one token, so no event can forge another.
"""

from __future__ import annotations

import json
import re
from typing import Any

CONTENT_TYPE = "text/event-stream"
HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache",
           "X-Accel-Buffering": "no"}
EVENT_TYPE = re.compile(r"[a-z][a-z_]{0,31}")
CONVERSATION = "conversation"  # the first event of every chat stream: {"id"}


def frame(event: str, data: dict[str, Any]) -> bytes:
    if not EVENT_TYPE.fullmatch(event):
        raise ValueError(f"{event!r} is not an event type")
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n".encode()


def parse(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """The events of a whole stream (for clients and tests)."""
    out: list[tuple[str, dict[str, Any]]] = []
    for block in raw.decode().split("\n\n"):
        event, data = "message", ""
        for line in block.split("\n"):
            if line.startswith("event: "):
                event = line[len("event: "):]
            elif line.startswith("data: "):
                data += line[len("data: "):]
        if data:
            out.append((event, json.loads(data)))
    return out
