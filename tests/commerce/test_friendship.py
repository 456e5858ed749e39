"""The rules of friends and blocks, driven as plain data."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commerce import friendship
from commerce.friendship import Counts, Limits, Move, Pair, Refused

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _after(pair: Pair, *moves: tuple[Move, str]) -> Pair:
    for move, me in moves:
        pair = friendship.apply(pair, move, me, AT)
    return pair


def test_a_pair_is_named_the_same_from_both_sides() -> None:
    assert friendship.pair_id("b", "a") == friendship.pair_id("a", "b") == "a:b"
    assert friendship.new_pair("b", "a") == Pair("a", "b")


def test_request_then_accept_is_a_friendship() -> None:
    pair = _after(friendship.new_pair("a", "b"), (Move.REQUEST, "a"))
    assert pair.requester == "a" and not pair.friends
    assert friendship.counts(pair, "a") == Counts(outgoing=1) and friendship.counts(pair, "b") == Counts(incoming=1)
    pair = _after(pair, (Move.ACCEPT, "b"))
    assert pair.friends and pair.requester is None and pair.since == AT
    assert friendship.deltas(Pair("a", "b", requester="a"), pair, "b") == Counts(friends=1, incoming=-1)


@pytest.mark.parametrize(("moves", "last", "code"), [
    ((), (Move.ACCEPT, "b"), "unknown-friend-request"),
    (((Move.REQUEST, "a"),), (Move.ACCEPT, "a"), "unknown-friend-request"),  # your own request
    (((Move.REQUEST, "a"),), (Move.CANCEL, "b"), "unknown-friend-request"),  # not yours to cancel
    (((Move.REQUEST, "a"),), (Move.DECLINE, "a"), "unknown-friend-request"),
    (((Move.REQUEST, "a"),), (Move.REQUEST, "a"), "friend-request-exists"),
    (((Move.REQUEST, "a"), (Move.ACCEPT, "b")), (Move.REQUEST, "b"), "already-friends"),
    ((), (Move.REMOVE, "a"), "not-friends"),
    ((), (Move.UNBLOCK, "a"), "not-blocked"),
    (((Move.BLOCK, "a"),), (Move.BLOCK, "a"), "already-blocked"),
    (((Move.BLOCK, "a"),), (Move.REQUEST, "a"), "player-blocked"),
    (((Move.BLOCK, "a"),), (Move.REQUEST, "b"), "blocked-by-player"),
])
def test_moves_the_rules_refuse(moves: tuple[tuple[Move, str], ...], last: tuple[Move, str], code: str) -> None:
    pair = _after(friendship.new_pair("a", "b"), *moves)
    with pytest.raises(Refused) as caught:
        friendship.apply(pair, last[0], last[1], AT)
    assert caught.value.code == code


def test_a_block_ends_the_friendship_and_the_request() -> None:
    friends = _after(friendship.new_pair("a", "b"), (Move.REQUEST, "a"), (Move.ACCEPT, "b"))
    assert _after(friends, (Move.BLOCK, "b")) == Pair("a", "b", blocked_by=frozenset({"b"}), since=AT)
    asked = _after(friendship.new_pair("a", "b"), (Move.REQUEST, "a"), (Move.BLOCK, "a"))
    assert asked.requester is None and asked.blocked_by == {"a"}
    both = _after(asked, (Move.BLOCK, "b"), (Move.UNBLOCK, "a"))
    assert both.blocked_by == {"b"} and not _after(both, (Move.UNBLOCK, "b")).blocked_by
    assert _after(both, (Move.UNBLOCK, "b")).empty


def test_caps_are_checked_only_when_a_total_grows() -> None:
    limits = Limits(friends=1, pending=1, blocks=1)
    assert friendship.over_limit(Counts(friends=1), Counts(friends=1), limits) == "friend-limit"
    assert friendship.over_limit(Counts(incoming=1), Counts(incoming=1), limits) == "friend-request-limit"
    assert friendship.over_limit(Counts(blocks=1), Counts(blocks=1), limits) == "block-limit"
    assert friendship.over_limit(Counts(friends=5), Counts(friends=-1), limits) is None  # shrinking past a cap
    assert friendship.over_limit(Counts(), Counts(friends=1), limits) is None


def test_player_ids() -> None:
    assert friendship.is_player_id("0f" * 16) and not friendship.is_player_id("a b")
    assert not friendship.is_player_id("") and not friendship.is_player_id("x" * 65)
