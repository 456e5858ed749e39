"""The fan-out (spectator.fanout): one blob to every watcher, the slow-reader policy for the rest.

Watchers are stand-ins with what ``deliver`` uses of one (``FanoutWatcher``), holding a
transport stub whose unsent bytes are whatever the test sets.
"""

from __future__ import annotations

import time

from elysium import config
from elysium.feeds import FeedEntry
from elysium.ws.fanout import SlowReaderPolicy
from elysium.ws.rawsocket import OPEN
from spectator.fanout import deliver, slow_reader_policy
from spectator.feed import ENDED, GAP, Entry, FeedDecoder, marker
from spectator.metrics import SpectatorMetrics
from spectator.settings import SpectatorSettings


def entry(kind: str, tick: int, at: float, payload: bytes = b"x") -> Entry:
    raw = FeedEntry.parse(f"{int(at * 1000)}-0".encode(), {b"k": kind.encode(), b"n": str(tick).encode(), b"b": payload})
    return FeedDecoder("m").decode(raw)


POLICY = SlowReaderPolicy(skip_bytes=100, close_bytes=1000, slow_close_s=10.0)


class Transport:
    def __init__(self, backlog: int = 0) -> None:
        self.backlog = backlog
        self.written: list[bytes] = []

    def get_write_buffer_size(self) -> int:
        return self.backlog

    def write(self, data: bytes) -> None:
        self.written.append(data)


class Sink:
    def __init__(self, backlog: int = 0, skipping: float = 0.0) -> None:
        self.transport = Transport(backlog)
        self.skipping = skipping
        self.state = OPEN
        self.aborted = False

    def abort(self) -> None:
        self.aborted, self.state = True, -1


def test_deliver_writes_one_blob_skips_slow_and_resyncs_at_a_keyframe() -> None:
    metrics = SpectatorMetrics()
    fast, slow, hopeless, waiting = Sink(), Sink(backlog=200), Sink(backlog=2000), Sink(skipping=time.monotonic())
    batch = [entry("d", 1, 1), entry("e", 1, 1)]
    assert deliver([fast, slow, hopeless, waiting], batch, metrics, POLICY) is None
    assert fast.transport.written == [batch[0].framed + batch[1].framed]
    assert slow.transport.written == [] and slow.skipping
    assert hopeless.aborted and waiting.skipping and waiting.transport.written == []
    slow.transport.backlog = 0
    batch = [entry("d", 2, 2), entry("k", 2, 2), entry("d", 3, 3)]
    deliver([fast, slow, waiting], batch, metrics, POLICY)
    for sink in (slow, waiting):
        assert sink.transport.written == [batch[1].framed + batch[2].framed] and not sink.skipping
    assert fast.transport.written[-1] == b"".join(e.framed for e in batch)


def test_a_gap_sends_everyone_to_the_next_keyframe_and_an_ended_notice_reaches_all() -> None:
    metrics = SpectatorMetrics()
    a, b = Sink(), Sink(backlog=500)
    deliver([a, b], [entry("d", 1, 1), marker(GAP, 2.0), entry("d", 2, 2)], metrics, POLICY)
    assert a.skipping and b.skipping and a.transport.written == []
    notice = marker(ENDED, 3.0, b"NOTICE")
    assert deliver([a, b], [entry("d", 3, 3), notice], metrics, POLICY) is notice
    assert a.transport.written == [b"NOTICE"] and b.transport.written == [b"NOTICE"]


def test_a_watcher_stuck_behind_for_too_long_is_disconnected() -> None:
    stuck = Sink(backlog=500, skipping=time.monotonic() - 5)
    waiting = Sink(backlog=0, skipping=time.monotonic() - 5)  # no backlog: just waiting for a keyframe
    deliver([stuck, waiting], [entry("d", 1, 1)], SpectatorMetrics(), SlowReaderPolicy(100, 1000, 2.0))
    assert stuck.aborted and not waiting.aborted


def test_the_final_keyframe_reaches_a_slow_watcher() -> None:
    slow = Sink(backlog=500)
    final = entry("end", 9, 9)
    assert deliver([slow], [entry("d", 9, 9), final], SpectatorMetrics(), POLICY) is final
    assert slow.transport.written == [final.framed]


def count(metric: object) -> float:
    return float(metric._value.get())  # type: ignore[attr-defined]


def test_metrics_count_what_each_watcher_got() -> None:
    metrics = SpectatorMetrics()
    fast, slow, gone = Sink(), Sink(backlog=200), Sink(backlog=5000)
    batch = [entry("d", 1, 1), entry("k", 2, 2), entry("d", 3, 3)]
    waiting = Sink(skipping=time.monotonic())
    deliver([fast, slow, gone, waiting], batch, metrics, POLICY)
    blob, tail = b"".join(e.framed for e in batch), batch[1].framed + batch[2].framed
    assert count(metrics.frames_out) == 3 and count(metrics.bytes_out) == len(blob) + len(tail)
    assert count(metrics.resyncs) == 1 and waiting.transport.written == [tail]
    assert count(metrics.frames_skipped) == 3 and slow.skipping and slow.transport.written == []
    assert count(metrics.slow_closed) == 1 and gone.aborted


def test_a_gap_then_a_keyframe_resyncs_everyone_from_the_keyframe() -> None:
    metrics = SpectatorMetrics()
    a = Sink()
    batch = [entry("d", 1, 1), marker(GAP, 2.0), entry("k", 3, 3), entry("d", 4, 4)]
    deliver([a], batch, metrics, POLICY)
    assert a.transport.written == [batch[2].framed + batch[3].framed] and not a.skipping
    assert count(metrics.resyncs) == 1 and count(metrics.frames_out) == 0


def test_watchers_not_open_get_nothing() -> None:
    closing = Sink()
    closing.state = -1
    deliver([closing], [entry("k", 1, 1)], SpectatorMetrics(), POLICY)
    assert closing.transport.written == []


def test_the_policy_comes_from_the_settings() -> None:
    settings = config.load(SpectatorSettings, environ={
        "ELYSIUM_REDIS_URL": "redis://x", "ELYSIUM_SPECTATOR_SKIP_BYTES": "100",
        "ELYSIUM_SPECTATOR_CLOSE_BYTES": "1000", "ELYSIUM_SPECTATOR_SLOW_CLOSE_S": "2.5"})
    assert slow_reader_policy(settings) == SlowReaderPolicy(100, 1000, 2.5)
