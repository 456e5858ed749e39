"""The two sides of a match feed, in game terms.

The writer never blocks its caller: ``append`` and ``describe`` only buffer, ``kick``
starts a flush in the background (the game server calls it after each batch of ticks),
``drain`` waits for the buffer to empty. Entries reach the feed at least once and in
order: when the store fails, the batch goes back to the front of the buffer (bounded by
:data:`FEED_BUFFER_MAX`; past it the oldest entries are dropped and counted), so a reader
may see an entry twice and skips ticks it has seen.

The reader raises :class:`FeedUnavailable` when the store cannot be reached; everything
else (a feed that does not exist, a malformed entry) is an answer, not an error.
"""

from __future__ import annotations

from typing import Protocol

from elysium.feeds.model import FeedEntry, FeedId, FeedKind, FeedPage, MatchInfo, MatchList

FEED_BUFFER_MAX = 200_000  # entries waiting for the store; the oldest go past this


class FeedUnavailable(Exception):
    """The feed store could not be reached (or failed) for this read; retrying may work."""


class MatchFeedWriter(Protocol):
    @property
    def pending(self) -> int:
        """Entries waiting to be written."""

    @property
    def dropped(self) -> int:
        """Entries dropped because the buffer was full."""

    @property
    def errors(self) -> int:
        """Failed flushes and refused commands."""

    def append(self, match_id: str, kind: FeedKind, tick: int, data: bytes) -> None:
        """Buffer one entry of ``match_id``'s feed."""

    def describe(self, match_id: str, info: MatchInfo, live: bool) -> None:
        """Buffer the match's description; ``live`` False moves it from the live listing to
        the finished one (and starts its feed's retention from now)."""

    def kick(self) -> None:
        """Start a flush unless one is in flight (needs a running event loop)."""

    async def drain(self, timeout_s: float = 5.0) -> None:
        """Flush until nothing is pending, or ``timeout_s`` passed."""


class MatchFeedReader(Protocol):
    async def newest(self, match_id: str) -> FeedEntry | None:
        """The feed's newest well-formed entry; None when there is none."""

    async def read_after(self, match_id: str, after: FeedId | None, count: int, block_s: float) -> FeedPage:
        """Up to ``count`` entries after ``after`` (None: from the first), waiting up to
        ``block_s`` for one to be appended when there are none yet (the page is then empty)."""

    async def range_after(self, match_id: str, after: FeedId | None, count: int) -> FeedPage:
        """Up to ``count`` entries after ``after`` (None: from the first), without waiting."""

    async def range_before(self, match_id: str, before: FeedId | None, count: int) -> FeedPage:
        """The (up to) ``count`` entries just before ``before`` (None: the newest), oldest first.
        ``last_id`` is the oldest id read: the next page backwards is before it."""

    async def untrimmed(self, match_id: str) -> bool:
        """True when the feed still holds every entry ever appended to it (False: no feed)."""

    async def exists(self, match_id: str) -> bool:
        """True while the feed exists (until its retention ends)."""

    async def info(self, match_id: str) -> MatchInfo | None:
        """The match's description, None when there is none."""

    async def matches(self, limit: int) -> MatchList:
        """Up to ``limit`` live and ``limit`` finished matches, newest first, that have a description."""

    async def newest_live(self) -> str | None:
        """The id of the most recently updated live match."""
