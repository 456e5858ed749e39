"""The slow-reader policy of every fan-out: what to do with a reader that is not keeping up.

Pure: no I/O, no clock. The game server (players) and the relay (watchers) encode each
message once and write the same bytes to every reader; neither ever waits for one. Before a
write each asks how far behind the reader is (its transport's unsent bytes) and applies the
same rule, set by a :class:`SlowReaderPolicy`:

- at or under ``skip_bytes`` and not skipping: **send** (the hot path; callers test this
  inline and ask :func:`slow_reader` only otherwise);
- past ``close_bytes``, or still past ``skip_bytes`` ``slow_close_s`` after skipping began:
  **close** (abort the connection; a player's seat is held as for any drop);
- otherwise, if a start point can be sent (a keyframe that replaces what was missed) and the
  reader has drained to ``skip_bytes``: **resync** (send the start point, stop skipping);
- otherwise: **skip** (send nothing; remember since when).

The transitions form a table in ``docs/architecture.md`` (*Slow readers*).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Action(enum.Enum):
    SEND = "send"
    SKIP = "skip"
    RESYNC = "resync"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class SlowReaderPolicy:
    skip_bytes: int  # unsent bytes past which a reader gets nothing until it resyncs
    close_bytes: int  # unsent bytes past which a reader is disconnected
    slow_close_s: float  # how long a reader may stay past skip_bytes while skipping

    def __post_init__(self) -> None:
        if not 0 <= self.skip_bytes <= self.close_bytes:
            raise ValueError("need 0 <= skip_bytes <= close_bytes")
        if self.slow_close_s <= 0:
            raise ValueError("slow_close_s must be positive")


def slow_reader(policy: SlowReaderPolicy, backlog: int, skipping_since: float | None, now: float, *,
                can_resync: bool, force: bool = False) -> Action:
    """The action for a reader with ``backlog`` unsent bytes.

    ``skipping_since`` is when the reader began skipping (None: it is not). ``can_resync``
    says the message at hand carries a start point; ``force`` resyncs a skipping reader whatever
    its backlog short of closing (the relay does so with a stream's terminal entry, so every
    watcher still connected sees the end).
    """
    if skipping_since is None and backlog <= policy.skip_bytes:
        return Action.SEND
    if backlog > policy.close_bytes:
        return Action.CLOSE
    if backlog > policy.skip_bytes and skipping_since is not None and now - skipping_since > policy.slow_close_s:
        return Action.CLOSE
    if can_resync and (backlog <= policy.skip_bytes or force):
        return Action.RESYNC
    return Action.SKIP
