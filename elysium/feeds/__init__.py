"""Match feeds: what the game server writes for spectators and what relays read back.

A match feed is an ordered, length-capped log of the exact messages a match's players
received (keyframes, deltas, events, and the final keyframe), plus a description of the
match (:class:`MatchInfo`) and two listings: live matches and recently finished ones.

This package holds the contract, pure and typed: the entry kinds, :class:`FeedEntry`,
:class:`MatchInfo` with its one encoder and one parser, and the two interfaces
:class:`MatchFeedWriter` (the game server) and :class:`MatchFeedReader` (relays).
Implementations live beside it and are imported from their modules:

- :mod:`elysium.feeds.redis_feed`: ``RedisFeedWriter`` and ``RedisFeedReader``, the layout
  of ``docs/redis-keys.md``;
- :mod:`elysium.feeds.memory`: ``MemoryFeeds`` (one process, for tests and single-process
  use), whose ``writer()`` and ``reader()`` share its store.

Both writers buffer alike (:mod:`elysium.feeds.buffer`, ``BufferedFeedWriter``): bounded by
:data:`FEED_BUFFER_MAX`, the oldest entries dropped and counted past it.

One contract suite (``tests/elysium/test_feeds.py``) runs against both.
"""

from elysium.feeds.model import (
    DELTA,
    END,
    EVENTS,
    KEYFRAME,
    KINDS,
    BadFeedEntry,
    FeedEntry,
    FeedId,
    FeedKind,
    FeedPage,
    ListedMatch,
    MatchInfo,
    MatchList,
    id_after,
    id_time,
)
from elysium.feeds.ports import FEED_BUFFER_MAX, FeedUnavailable, MatchFeedReader, MatchFeedWriter

__all__ = [
    "DELTA", "END", "EVENTS", "FEED_BUFFER_MAX", "KEYFRAME", "KINDS", "BadFeedEntry", "FeedEntry", "FeedId",
    "FeedKind", "FeedPage", "FeedUnavailable", "ListedMatch", "MatchFeedReader", "MatchFeedWriter", "MatchInfo", "MatchList", "id_after",
    "id_time",
]
