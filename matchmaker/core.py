"""The matching core: queue entries in, proposed matches out. Pure: no I/O, no clock.

Each pass looks at the waiting tickets of one queue mode. Tickets are anchors in the order
they arrived (oldest first): an anchor gathers the tickets nearest to its rating, in a
region both accept, until the match is full. How far from its own rating an anchor
reaches grows with its wait (:meth:`ModeConfig.gap`); after ``max_wait_s`` it also
accepts a smaller match (at least ``min_players``) and, if it allows a fallback, any
region with room. A party is one ticket and always lands on one team. Teams are then
balanced by rating: the largest parties first, each to the team with the lowest total.

The adapters turn each :class:`Proposal` into a match with atomic claims; a proposal that
loses a race to another replica is simply dropped and its tickets are considered again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from matchmaker.modes import ModeConfig


@dataclass(frozen=True, slots=True)
class QueueEntry:
    ticket_id: str
    players: tuple[str, ...]
    rating: float  # the mean rating (mu) of the ticket's players
    regions: tuple[tuple[str, float], ...]  # (region, measured latency ms), nearest first
    enqueued_ms: int
    fallback: bool = False  # the players accept a region they did not list after max_wait_s

    @property
    def size(self) -> int:
        return len(self.players)


@dataclass(frozen=True, slots=True)
class Proposal:
    mode: str
    region: str
    tickets: tuple[str, ...]
    roster: tuple[tuple[str, int], ...]  # (player id, team), team 0 in free-for-all modes
    rating_spread: float
    oldest_wait_ms: int

    @property
    def players(self) -> int:
        return len(self.roster)


def eligible_regions(entry: QueueEntry, mode: ModeConfig, now_ms: int, known: Iterable[str]) -> list[str]:
    """Regions a ticket may be placed in now, in its order of preference."""
    waited_s = (now_ms - entry.enqueued_ms) / 1000.0
    listed = [r for r, _ in entry.regions]
    out = listed[:1] if waited_s < mode.region_widen_after_s else listed
    if entry.fallback and waited_s >= mode.max_wait_s:
        out = out + sorted(r for r in known if r not in out)
    return out


def assign_teams(sizes_ratings: Sequence[tuple[int, float]], teams: int, team_size: int) -> list[int] | None:
    """Team of each ticket (same order as given), balancing rating totals; None if they cannot fit."""
    if teams == 0:
        return [0] * len(sizes_ratings)
    order = sorted(range(len(sizes_ratings)), key=lambda i: (-sizes_ratings[i][0], -sizes_ratings[i][1]))
    room = [team_size] * teams
    total = [0.0] * teams
    out = [0] * len(sizes_ratings)
    for i in order:
        size, rating = sizes_ratings[i]
        best = -1
        for t in range(teams):
            if room[t] >= size and (best < 0 or (total[t], -room[t]) < (total[best], -room[best])):
                best = t
        if best < 0:
            return None
        out[i] = best
        room[best] -= size
        total[best] += rating * size
    return out


class _Lane:
    """The tickets eligible in one region, sorted by rating, skipping taken ones quickly."""

    __slots__ = ("entries", "pos", "right", "left")

    def __init__(self, entries: list[int], ratings: Sequence[float]) -> None:
        self.entries = sorted(entries, key=lambda i: ratings[i])
        self.pos = {e: p for p, e in enumerate(self.entries)}
        self.right = list(range(len(self.entries)))  # right[p] > p: every position before it is taken
        self.left = list(range(len(self.entries)))  # left[p] < p: every position after it is taken

    def next_right(self, p: int, taken: Sequence[bool]) -> int:
        """The first position at or after ``p`` whose ticket is not taken (len when none)."""
        n = len(self.entries)
        path = []
        while p < n and taken[self.entries[p]]:
            path.append(p)
            hint = self.right[p]
            p = hint if hint > p else p + 1
        for q in path:
            self.right[q] = p
        return p

    def next_left(self, p: int, taken: Sequence[bool]) -> int:
        """The last position at or before ``p`` whose ticket is not taken (-1 when none)."""
        path = []
        while p >= 0 and taken[self.entries[p]]:
            path.append(p)
            hint = self.left[p]
            p = hint if hint < p else p - 1
        for q in path:
            self.left[q] = p
        return p


def propose(entries: Sequence[QueueEntry], mode: ModeConfig, now_ms: int,
            seats_free: Mapping[str, int]) -> list[Proposal]:
    """Matches for ``mode`` from ``entries``, within the free seats of each region."""
    if not entries:
        return []
    ratings = [e.rating for e in entries]
    taken = [False] * len(entries)
    capacity = dict(seats_free)
    known = list(capacity)
    eligible: list[list[str]] = []
    lanes_members: dict[str, list[int]] = {}
    for i, e in enumerate(entries):
        regions = [r for r in eligible_regions(e, mode, now_ms, known) if r in capacity]
        if e.size > mode.largest_party or e.size == 0:
            regions = []
        eligible.append(regions)
        for r in regions:
            lanes_members.setdefault(r, []).append(i)
    lanes = {r: _Lane(members, ratings) for r, members in lanes_members.items()}
    anchors = sorted(range(len(entries)), key=lambda i: (entries[i].enqueued_ms, entries[i].ticket_id))
    out: list[Proposal] = []
    for a in anchors:
        if taken[a] or not eligible[a]:
            continue
        anchor = entries[a]
        waited_ms = now_ms - anchor.enqueued_ms
        gap = mode.gap(waited_ms / 1000.0)
        smaller_ok = waited_ms >= mode.max_wait_s * 1000
        for region in eligible[a]:
            limit = min(capacity.get(region, 0), mode.max_players)
            if limit < (mode.min_players if smaller_ok else mode.max_players) or anchor.size > limit:
                continue
            chosen = _gather(a, lanes[region], entries, taken, mode, gap, limit)
            players = sum(entries[i].size for i in chosen)
            if players == mode.max_players or (smaller_ok and players >= mode.min_players):
                teams = assign_teams([(entries[i].size, entries[i].rating) for i in chosen], mode.teams,
                                     mode.team_size)
                if teams is None:  # cannot happen: _gather only keeps sets that fit
                    continue
                roster = tuple((p, teams[k]) for k, i in enumerate(chosen) for p in entries[i].players)
                picked = [entries[i].rating for i in chosen]
                for i in chosen:
                    taken[i] = True
                capacity[region] -= players
                out.append(Proposal(mode.name, region, tuple(entries[i].ticket_id for i in chosen), roster,
                                    max(picked) - min(picked), waited_ms))
                break
    return out


def _gather(a: int, lane: _Lane, entries: Sequence[QueueEntry], taken: Sequence[bool], mode: ModeConfig,
            gap: float, limit: int) -> list[int]:
    """The anchor and the nearest-rated tickets that fit, up to ``limit`` players."""
    anchor = entries[a]
    chosen = [a]
    players = anchor.size
    has_party = anchor.size > 1
    p0 = lane.pos[a]
    lo, hi = lane.next_left(p0 - 1, taken), lane.next_right(p0 + 1, taken)
    while players < limit and (lo >= 0 or hi < len(lane.entries)):
        left_d = anchor.rating - entries[lane.entries[lo]].rating if lo >= 0 else float("inf")
        right_d = entries[lane.entries[hi]].rating - anchor.rating if hi < len(lane.entries) else float("inf")
        if min(left_d, right_d) > gap:
            break
        if lo >= 0 and left_d <= right_d:
            cand = lane.entries[lo]
            lo = lane.next_left(lo - 1, taken)
        else:
            cand = lane.entries[hi]
            hi = lane.next_right(hi + 1, taken)
        size = entries[cand].size
        if players + size > limit:
            continue
        if mode.teams and (has_party or size > 1):
            trial = [(entries[i].size, entries[i].rating) for i in chosen] + [(size, entries[cand].rating)]
            if assign_teams(trial, mode.teams, mode.team_size) is None:
                continue
        chosen.append(cand)
        players += size
        has_party = has_party or size > 1
    return chosen
