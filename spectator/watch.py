"""What a watch request is served with: the match, live or replay, the delay; and the hello.

:func:`resolve` looks the request up through the feed reader (:mod:`elysium.feeds`) and
refuses what cannot be served (an unknown or expired match, a speed for a live watch); the
server then joins a live channel or starts a replay from the :class:`WatchPlan`. It needs only a
feed reader (tests use the in-memory one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from elysium.feeds import MatchFeedReader, MatchInfo
from spectator import protocol as sp
from spectator.listing import LIVE_STATES, public_state
from spectator.live import live_channel

if TYPE_CHECKING:
    from spectator.settings import SpectatorSettings


@dataclass(frozen=True, slots=True)
class WatchPlan:
    match_id: str  # resolved (``_latest`` names the match it stood for)
    info: MatchInfo  # the match's description (only its id when the game server wrote none)
    live: bool  # the match is still being played
    min_delay_s: float  # the mode's minimum delay
    replay: bool  # an own cursor: a seek (``from=``) or a finished match
    from_tick: int = 0  # replay: the tick to seek to
    speed: float = 1.0  # replay pace
    delay_s: float = 0.0  # live: the channel's delay (see spectator.live.live_channel)
    bundle_s: float = 0.0  # live: the channel's bundle window

    @property
    def mode(self) -> str | None:
        return self.info.mode


async def resolve(feeds: MatchFeedReader, settings: SpectatorSettings, req: sp.WatchRequest) -> WatchPlan:
    """The plan for ``req``; raises :class:`spectator.protocol.WatchRefused` when it cannot be served.

    Feed errors (:class:`elysium.feeds.FeedUnavailable`) pass through to the caller.
    """
    match_id = req.match_id
    if match_id == sp.LATEST:
        match_id = await feeds.newest_live() or ""
    described = await feeds.info(match_id) if match_id else None
    has_feed = bool(match_id) and await feeds.exists(match_id)
    if not match_id or (described is None and not has_feed):
        raise sp.WatchRefused(sp.UNKNOWN_MATCH, f"no live or replayable match {req.match_id!r}")
    info = described or MatchInfo(match_id)
    # The relay's own minimum for the mode, raised to what the match's mode asks for (a mode
    # with hidden information holds its full view back past the time it stays hidden).
    min_delay = max(settings.min_delay_s(info.mode), info.min_delay_s or 0.0)
    live = info.state in LIVE_STATES or (described is None and has_feed)
    if not live and not has_feed:
        raise sp.WatchRefused(sp.UNKNOWN_MATCH, f"match {match_id!r} is over and its replay has expired")
    if req.from_tick is not None and live and not has_feed:
        # A room still waiting has written nothing yet: there is nothing to seek, so the watcher
        # follows it live (at the mode's minimum delay) from its first feed entry.
        delay, bundle = live_channel(min_delay, min_delay, settings.bundle_s)
        return WatchPlan(match_id, info, live, min_delay, replay=False, delay_s=delay, bundle_s=bundle)
    if req.from_tick is not None or not live:
        return WatchPlan(match_id, info, live, min_delay, replay=True, from_tick=req.from_tick or 0, speed=req.speed)
    if req.speed != 1.0:
        raise sp.WatchRefused(sp.BAD_REQUEST, "speed applies to replays and seeks (from=...)")
    delay, bundle = live_channel(req.delay_s or 0.0, min_delay, settings.bundle_s)
    return WatchPlan(match_id, info, live, min_delay, replay=False, delay_s=delay, bundle_s=bundle)


def hello(plan: WatchPlan, from_tick: int | None = None) -> bytes:
    """The watch hello (``from_tick``: a replay's first tick); the mode's columns, map, input
    schema and options come from the match's description (an older game server's description
    may lack them, and the hello then carries None for them)."""
    info = plan.info
    return sp.watch(match_id=plan.match_id, mode=plan.mode, state=public_state(info.state), live=plan.live, delay_s=plan.delay_s,
                    min_delay_s=plan.min_delay_s, bundle_s=plan.bundle_s, from_tick=from_tick, speed=plan.speed,
                    tick_hz=info.tick_hz, players=list(info.players), columns=info.columns, map_info=info.map_info,
                    input_schema=info.input, options=info.options)
