"""The slow-reader policy, transition by transition (the table in docs/architecture.md, *Slow readers*)."""

from __future__ import annotations

import pytest

from elysium.ws.fanout import Action, SlowReaderPolicy, slow_reader

POLICY = SlowReaderPolicy(skip_bytes=100, close_bytes=1000, slow_close_s=10.0)
NOW = 50.0
RECENT = NOW - 1.0  # skipping, well within slow_close_s
LONG_AGO = NOW - 11.0  # skipping for longer than slow_close_s

# (backlog, skipping since, can resync, force) -> action
TABLE = [
    # not skipping
    ((0, None, True, False), Action.SEND),
    ((100, None, False, False), Action.SEND),  # at the skip bound is still under it
    ((101, None, True, False), Action.SKIP),
    ((1000, None, True, False), Action.SKIP),  # at the close bound is not past it
    ((1001, None, True, False), Action.CLOSE),
    ((1001, None, True, True), Action.CLOSE),  # force never saves a reader past the close bound
    ((500, None, True, True), Action.RESYNC),  # forced: the start point goes out whatever the backlog
    ((500, None, False, True), Action.SKIP),  # force needs a start point to send
    # skipping, still behind
    ((500, RECENT, True, False), Action.SKIP),
    ((500, RECENT, True, True), Action.RESYNC),
    ((500, RECENT, False, True), Action.SKIP),
    ((500, LONG_AGO, True, False), Action.CLOSE),
    ((500, LONG_AGO, True, True), Action.CLOSE),
    ((500, NOW - 10.0, True, False), Action.SKIP),  # exactly slow_close_s is not longer than it
    ((1001, RECENT, True, True), Action.CLOSE),
    # skipping, drained to the skip bound
    ((100, RECENT, True, False), Action.RESYNC),
    ((0, LONG_AGO, True, False), Action.RESYNC),  # the timeout counts only while still behind
    ((100, RECENT, False, False), Action.SKIP),  # no start point in this message: wait for one
]


@pytest.mark.parametrize(("case", "expected"), TABLE, ids=[f"{c}->{a.value}" for c, a in TABLE])
def test_slow_reader_transitions(case: tuple[int, float | None, bool, bool], expected: Action) -> None:
    backlog, since, can_resync, force = case
    assert slow_reader(POLICY, backlog, since, NOW, can_resync=can_resync, force=force) is expected


def test_force_defaults_to_off() -> None:
    assert slow_reader(POLICY, 500, RECENT, NOW, can_resync=True) is Action.SKIP


@pytest.mark.parametrize(("skip", "close", "slow_close_s"), [(101, 100, 1.0), (-1, 100, 1.0), (0, 100, 0.0),
                                                             (0, 100, -1.0)])
def test_a_policy_out_of_order_is_refused(skip: int, close: int, slow_close_s: float) -> None:
    with pytest.raises(ValueError):
        SlowReaderPolicy(skip_bytes=skip, close_bytes=close, slow_close_s=slow_close_s)
