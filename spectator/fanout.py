"""Fan-out: write one batch of framed feed entries to every watcher of a channel or replay.

:func:`deliver` is the one place that decides, per watcher, between writing, skipping to the
next keyframe and disconnecting. The fast path (a watcher not skipping, no gap in the batch,
its backlog at or under the skip threshold) writes the shared blob inline; every other
watcher is asked about through the kernel's slow-reader policy (:mod:`elysium.ws.fanout`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from elysium.ws import frames
from elysium.ws.fanout import Action, SlowReaderPolicy, slow_reader
from elysium.ws.rawsocket import OPEN
from spectator.feed import END, ENDED, GAP, Entry

if TYPE_CHECKING:
    from spectator.metrics import SpectatorMetrics
    from spectator.settings import SpectatorSettings

__all__ = ["FanoutWatcher", "FinishingWatcher", "WatcherTransport", "close_after", "deliver", "slow_reader_policy"]


class WatcherTransport(Protocol):
    """What :func:`deliver` uses of a watcher's transport (an ``asyncio.Transport`` has it)."""

    def get_write_buffer_size(self) -> int: ...

    def write(self, data: bytes) -> None: ...


class FanoutWatcher(Protocol):
    """What :func:`deliver` uses of a watcher (:class:`spectator.connection.Watcher` has it)."""

    @property
    def transport(self) -> WatcherTransport | None: ...

    @property
    def state(self) -> int:
        """Feed bytes may be written when it is ``OPEN``."""

    skipping: float  # since when it waits for the next start point (time.monotonic()); 0: not

    def abort(self) -> None:
        """Disconnect now, without a closing handshake."""


class FinishingWatcher(Protocol):
    """What :func:`close_after` uses of a watcher."""

    def finish(self, code: int, reason: str) -> None:
        """Close with ``code`` and ``reason`` once what was written is sent."""


def slow_reader_policy(settings: SpectatorSettings) -> SlowReaderPolicy:
    """The relay's policy for watchers that do not keep up (``ELYSIUM_SPECTATOR_SKIP_BYTES``,
    ``..._CLOSE_BYTES``, ``..._SLOW_CLOSE_S``)."""
    return SlowReaderPolicy(settings.skip_bytes, settings.close_bytes, settings.slow_close_s)


def deliver(watchers: Iterable[FanoutWatcher], batch: list[Entry], metrics: SpectatorMetrics,
            policy: SlowReaderPolicy) -> Entry | None:
    """Write ``batch`` to ``watchers``; returns the terminal entry when the batch ends the stream.

    The batch is joined into one bytes object (several websocket messages, one write). A
    watcher whose unsent backlog is past the policy's ``skip_bytes`` (or who is already
    skipping, or meets a gap in the batch) gets nothing until a batch holds a start point; it
    then receives the batch from its last start. The policy says when it is disconnected
    instead (``skipping`` holds when skipping began; 0: not). A terminal entry (match end, or
    the stream ended) reaches every watcher still connected.
    """
    parts: list[bytes] = []
    tail_from: int | None = None
    gap = False
    terminal: Entry | None = None
    for entry in batch:
        if entry.kind == GAP:
            gap, tail_from = True, None
            continue
        if entry.start:
            tail_from = len(parts)
        if entry.terminal:
            terminal = entry
        parts.append(entry.framed)
    blob = b"".join(parts)
    can_resync, force = tail_from is not None, terminal is not None
    tail = b"".join(parts[tail_from:]) if tail_from is not None else b""  # the batch from its last start
    notice = terminal.framed if terminal is not None and terminal.kind == ENDED else None
    skip_at = policy.skip_bytes
    sent = skipped = resynced = 0
    now = time.monotonic()
    # Closing a transport only schedules connection_lost, so ``watchers`` cannot change while we loop.
    for w in watchers:
        transport = w.transport
        if transport is None or w.state != OPEN:
            continue
        backlog = transport.get_write_buffer_size()
        if not w.skipping and not gap and backlog <= skip_at:
            transport.write(blob)
            sent += 1
            continue
        # A gap means the blob is not whole: a watcher that was not skipping skips from now.
        since = w.skipping or (now if gap else 0.0)
        action = slow_reader(policy, backlog, since or None, now, can_resync=can_resync, force=force)
        if action is Action.CLOSE:
            metrics.slow_closed.inc()
            w.abort()
        elif action is Action.RESYNC:
            transport.write(tail)
            w.skipping = 0.0
            resynced += 1
        else:  # SKIP (SEND is the fast path above)
            if not w.skipping:
                w.skipping = now
            skipped += len(batch)
            if notice is not None:
                transport.write(notice)
    if sent:
        metrics.frames_out.inc(sent * len(parts))
        metrics.bytes_out.inc(sent * len(blob))
    if resynced:
        metrics.bytes_out.inc(resynced * len(tail))
        metrics.resyncs.inc(resynced)
    if skipped:
        metrics.frames_skipped.inc(skipped)
    return terminal


def close_after(watchers: Iterable[FinishingWatcher], terminal: Entry) -> None:
    """Close ``watchers`` once ``terminal`` is written: 1000 for a match end, 1011 for an ended stream."""
    code, reason = ((frames.CLOSE_NORMAL, "match over") if terminal.kind == END
                    else (frames.CLOSE_INTERNAL, "stream ended"))
    for w in tuple(watchers):
        w.finish(code, reason)
