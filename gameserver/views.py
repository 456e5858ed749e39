"""Per-seat views: a tick's deltas for a mode whose players see different states. Pure.

A mode with ``per_seat_views`` names, for each seat, the key of the view it may see
(seats whose views coincide share a key) and builds each view as a
:class:`~elysium.modes.Snapshot`. :func:`encode_views` groups the connected seats by the
view their client holds (the last keyframe or delta they were sent) and the view they get
now, diffs each group's pair once, encodes that delta once and records the new view on each
seat: the work grows with the number of distinct views, never with the players sharing one
(docs/protocol.md, *Per-seat views*).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from gameserver import protocol as p
from gameserver.modes import GameMode, Snapshot

if TYPE_CHECKING:
    from gameserver.room import Seat


def encode_views(mode: GameMode[Any], seats: Iterable[Seat], tick: int, wall_us: int, acks: list[list[int]], *,
                 full: bool) -> list[tuple[bytes, list[Seat]]]:
    """Per-seat views: one delta per distinct (view the client holds, view it gets now),
    each encoded once. Seats sharing a key get the same view object, so after one tick of
    sharing a key they share their encodes; a tick that changes no view sends every seat
    the same bytes. Parts the views share (a mode's public player rows are usually one
    array for every view) are diffed once per tick."""
    groups: dict[tuple[int, Hashable], tuple[Snapshot | None, Hashable, list[Seat]]] = {}
    for seat in seats:
        if seat.link is None:
            continue  # a resume sends a keyframe of its view
        key = mode.view_key(seat.index)
        if key is None:  # None names the full view: a seat never gets it
            raise ValueError(f"view_key({seat.index}) returned None")
        group = groups.get((id(seat.view), key))
        if group is None:
            groups[id(seat.view), key] = (seat.view, key, [seat])
        else:
            group[2].append(seat)
    views: dict[Hashable, Snapshot] = {}
    player_diffs: dict[tuple[int, int, int, int], dict[str, Any]] = {}
    lists: dict[int, list[list[int]]] = {}  # id(array) -> array.tolist(), once per tick
    quiet: bytes | None = None  # the delta of every group whose view did not change
    out: list[tuple[bytes, list[Seat]]] = []
    m = mode.motion_columns
    for base, key, members in groups.values():
        cur = views.get(key)
        if cur is None:
            cur = views[key] = mode.view(key)
        msg: dict[str, Any] = {"t": "delta", "n": tick, "ts": wall_us}
        if base is None:
            base = Snapshot(tick, cur.players, np.zeros_like(cur.present), cur.objects[:0])
        elif full:
            base = Snapshot(base.tick, base.players, np.zeros_like(base.present), base.objects)
        if base.players is not cur.players or base.present is not cur.present:
            pair = (id(base.players), id(base.present), id(cur.players), id(cur.present))
            diff = player_diffs.get(pair)
            if diff is None:
                diff = player_diffs[pair] = _diff_player_lists(cur, base, m, lists)
            msg.update(diff)
        if cur.objects is not base.objects:
            _diff_view_objects(cur, base, msg, lists)
        if acks:
            msg["a"] = acks
        if len(msg) == 3 + bool(acks):
            if quiet is None:
                quiet = p.pack(msg)
            data = quiet
        else:
            data = p.pack(msg)
        for seat in members:
            seat.view = cur
        out.append((data, members))
    return out


def _as_list(array: np.ndarray, lists: dict[int, list[list[int]]]) -> list[list[int]]:
    rows = lists.get(id(array))
    if rows is None:
        rows = lists[id(array)] = array.tolist()
    return rows


def diff_player_rows(rows: list[list[int]], old_rows: list[list[int]], present: list[bool], was_present: list[bool],
                     m: int) -> tuple[list[list[int]], list[list[int]], list[int]]:
    """Player rows whose first ``m`` (motion) columns changed, rows whose status changed, and
    seats gone, row by row in Python (it beats a dozen small array operations for small rooms).
    A seat that appears comes in both lists. The one diff of the per-room delta and of each view."""
    moved: list[list[int]] = []
    status: list[list[int]] = []
    gone: list[int] = []
    for i, row in enumerate(rows):
        if not present[i]:
            if was_present[i]:
                gone.append(i)
            continue
        old = old_rows[i]
        if not was_present[i]:
            moved.append([i, *row[:m]])
            status.append([i, *row[m:]])
        elif row != old:
            if row[:m] != old[:m]:
                moved.append([i, *row[:m]])
            if row[m:] != old[m:]:
                status.append([i, *row[m:]])
    return moved, status, gone


def _diff_player_lists(snap: Snapshot, prev: Snapshot, m: int, lists: dict[int, list[list[int]]]) -> dict[str, Any]:
    """:func:`diff_player_rows` of two views, as the delta's ``gone``, ``p`` and ``s`` keys."""
    moved, status, gone = diff_player_rows(_as_list(snap.players, lists), _as_list(prev.players, lists),
                                           snap.present.tolist(), prev.present.tolist(), m)
    diff: dict[str, Any] = {}
    if gone:
        diff["gone"] = gone
    if moved:
        diff["p"] = moved
    if status:
        diff["s"] = status
    return diff


def _diff_view_objects(snap: Snapshot, prev: Snapshot, msg: dict[str, Any], lists: dict[int, list[list[int]]]) -> None:
    """:func:`_diff_objects` by ids: an object a view did not hold before is added whatever
    its id (a view may come to show an older object)."""
    old_rows = _as_list(prev.objects, lists)
    new_rows = _as_list(snap.objects, lists)
    old = {row[0] for row in old_rows}
    added = [row for row in new_rows if row[0] not in old]
    if added:
        msg["o+"] = added
    alive = {row[0] for row in new_rows}
    removed = [row[0] for row in old_rows if row[0] not in alive]
    if removed:
        msg["o-"] = removed
