"""The rules of friends and blocks between two players, as plain data (no I/O).

What lies between two players is one :class:`Pair`: nothing, a pending request (from one
of them), or a friendship, plus who of them blocked the other. Each move is a function
from a pair to the next pair, or a :class:`Refused` naming the stable problem code. A block
ends the friendship and any pending request, and while either player blocks the other no
request can be made. :func:`counts` and :func:`deltas` say what a pair adds to each
player's totals, which the adapter keeps per player and checks against the caps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

PLAYER_ID = r"[A-Za-z0-9_-]{1,64}"


class Move(StrEnum):
    REQUEST = "request"
    ACCEPT = "accept"
    DECLINE = "decline"
    CANCEL = "cancel"
    REMOVE = "remove"
    BLOCK = "block"
    UNBLOCK = "unblock"


class Refused(Exception):
    """A move the rules do not allow; ``code`` is the problem code the client sees."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Limits:
    friends: int
    pending: int  # outgoing requests, and incoming ones, each
    blocks: int


@dataclass(frozen=True)
class Counts:
    friends: int = 0
    outgoing: int = 0
    incoming: int = 0
    blocks: int = 0

    def plus(self, other: Counts) -> Counts:
        return Counts(self.friends + other.friends, self.outgoing + other.outgoing, self.incoming + other.incoming,
                      self.blocks + other.blocks)


@dataclass(frozen=True)
class Pair:
    a: str  # the smaller id
    b: str
    friends: bool = False
    requester: str | None = None  # who asked, while a request is pending
    blocked_by: frozenset[str] = field(default_factory=frozenset)
    since: datetime | None = None  # of the friendship or the request

    @property
    def empty(self) -> bool:
        return not self.friends and self.requester is None and not self.blocked_by

    def other(self, player: str) -> str:
        return self.b if player == self.a else self.a


def pair_id(x: str, y: str) -> str:
    a, b = sorted((x, y))
    return f"{a}:{b}"


def new_pair(x: str, y: str) -> Pair:
    a, b = sorted((x, y))
    return Pair(a, b)


def is_player_id(raw: str) -> bool:
    return re.fullmatch(PLAYER_ID, raw) is not None


def counts(pair: Pair, player: str) -> Counts:
    """What ``pair`` adds to ``player``'s totals."""
    return Counts(friends=int(pair.friends), outgoing=int(pair.requester == player),
                  incoming=int(pair.requester is not None and pair.requester != player),
                  blocks=int(player in pair.blocked_by))


def deltas(old: Pair, new: Pair, player: str) -> Counts:
    before, after = counts(old, player), counts(new, player)
    return Counts(after.friends - before.friends, after.outgoing - before.outgoing,
                  after.incoming - before.incoming, after.blocks - before.blocks)


def over_limit(current: Counts, delta: Counts, limits: Limits) -> str | None:
    """The problem code of the first cap a growing total would pass, or None."""
    after = current.plus(delta)
    if delta.friends > 0 and after.friends > limits.friends:
        return "friend-limit"
    if (delta.outgoing > 0 and after.outgoing > limits.pending) or (delta.incoming > 0
                                                                    and after.incoming > limits.pending):
        return "friend-request-limit"
    if delta.blocks > 0 and after.blocks > limits.blocks:
        return "block-limit"
    return None


def apply(pair: Pair, move: Move, me: str, at: datetime) -> Pair:
    """The pair after ``me`` makes ``move`` towards the other player, or :class:`Refused`."""
    other = pair.other(me)
    if move == Move.BLOCK:
        if me in pair.blocked_by:
            raise Refused("already-blocked", "you already block this player")
        return Pair(pair.a, pair.b, blocked_by=pair.blocked_by | {me}, since=pair.since)
    if move == Move.UNBLOCK:
        if me not in pair.blocked_by:
            raise Refused("not-blocked", "you do not block this player")
        return replace(pair, blocked_by=pair.blocked_by - {me})
    if move == Move.REMOVE:
        if not pair.friends:
            raise Refused("not-friends", "this player is not your friend")
        return replace(pair, friends=False, since=None)
    if move == Move.REQUEST:
        if me in pair.blocked_by:
            raise Refused("player-blocked", "you block this player; unblock them first")
        if other in pair.blocked_by:
            raise Refused("blocked-by-player", "this player does not take your requests")
        if pair.friends:
            raise Refused("already-friends", "you are friends already")
        if pair.requester == me:
            raise Refused("friend-request-exists", "your request to this player is pending already")
        if pair.requester == other:  # both asked: that is a friendship
            return replace(pair, friends=True, requester=None, since=at)
        return replace(pair, requester=me, since=at)
    if pair.requester != (other if move in (Move.ACCEPT, Move.DECLINE) else me):
        raise Refused("unknown-friend-request", "there is no such pending request")
    if move == Move.ACCEPT:
        return replace(pair, friends=True, requester=None, since=at)
    return replace(pair, requester=None, since=None)  # declined or cancelled
