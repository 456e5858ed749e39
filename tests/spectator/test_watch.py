"""Resolving watch requests (spectator.watch) against the in-memory feed store: no sockets."""

from __future__ import annotations

import msgpack
import pytest

from elysium import config
from elysium.feeds import MatchInfo
from elysium.feeds.memory import MemoryFeeds
from spectator import protocol as sp
from spectator.settings import SpectatorSettings
from spectator.watch import WatchPlan, hello, resolve

SETTINGS = config.load(SpectatorSettings, environ={"ELYSIUM_REDIS_URL": "redis://x",
                                                   "ELYSIUM_SPECTATOR_MODE_MIN_DELAYS": "ranked=2"})


def store() -> MemoryFeeds:
    ticks = iter(range(1_000_000))
    feeds = MemoryFeeds(clock=lambda: 1_000_000.0 + next(ticks))  # every write one second after the last
    feeds.set_info("live1", MatchInfo("live1", mode="arena", state="running", tick_hz=20), live=True)
    feeds.add("live1", "k", 1, b"k")
    feeds.set_info("ranked1", MatchInfo("ranked1", mode="ranked", state="running"), live=True)
    feeds.add("ranked1", "k", 1, b"k")
    feeds.set_info("done1", MatchInfo("done1", mode="arena", state="finished"), live=False)
    feeds.add("done1", "k", 1, b"k")
    feeds.set_info("expired", MatchInfo("expired", mode="arena", state="finished"), live=False)
    feeds.add("bare", "k", 1, b"k")  # a feed without a description (an older game server)
    return feeds


async def plan(target: str, feeds: MemoryFeeds | None = None) -> WatchPlan:
    return await resolve((feeds or store()).reader(), SETTINGS, sp.parse_watch_target(target, SETTINGS.max_delay_s))


async def test_live_watches_join_a_channel_at_or_above_the_mode_minimum() -> None:
    p = await plan("/v1/watch/live1?delay=1.01")
    assert (p.replay, p.live, p.delay_s, p.bundle_s, p.min_delay_s) == (False, True, 1.1, 0.1, 0.0)
    p = await plan("/v1/watch/ranked1")
    assert (p.replay, p.delay_s, p.min_delay_s) == (False, 2.0, 2.0)
    p = await plan("/v1/watch/bare")
    assert not p.replay and p.live and p.info == MatchInfo("bare")


async def test_seeks_and_finished_matches_are_replays() -> None:
    p = await plan("/v1/watch/live1?from=5&speed=2")
    assert (p.replay, p.live, p.from_tick, p.speed) == (True, True, 5, 2.0)
    p = await plan("/v1/watch/done1")
    assert (p.replay, p.live, p.from_tick, p.speed) == (True, False, 0, 1.0)


async def test_latest_names_the_newest_live_match() -> None:
    feeds = store()
    feeds.set_info("live1", MatchInfo("live1", mode="arena", state="running"), live=True)  # updated last
    assert (await plan("/v1/watch/_latest", feeds)).match_id == "live1"
    with pytest.raises(sp.WatchRefused) as refused:
        await plan("/v1/watch/_latest", MemoryFeeds())
    assert refused.value.code == sp.UNKNOWN_MATCH


@pytest.mark.parametrize("target, code, words", [
    ("/v1/watch/nosuch", sp.UNKNOWN_MATCH, "no live or replayable match"),
    ("/v1/watch/expired", sp.UNKNOWN_MATCH, "replay has expired"),
    ("/v1/watch/live1?speed=2", sp.BAD_REQUEST, "speed applies to replays"),
])
async def test_what_cannot_be_served_is_refused(target: str, code: str, words: str) -> None:
    with pytest.raises(sp.WatchRefused) as refused:
        await plan(target)
    assert refused.value.code == code and words in refused.value.message


async def test_the_hello_says_what_is_served() -> None:
    live = msgpack.unpackb(hello(await plan("/v1/watch/live1?delay=3")))
    assert (live["t"], live["match"], live["mode"], live["live"], live["delay_s"], live["from"], live["tick_hz"]) == (
        "watch", "live1", "arena", True, 3.0, None, 20)
    replay = msgpack.unpackb(hello(await plan("/v1/watch/done1?speed=4"), 1))
    assert (replay["live"], replay["delay_s"], replay["bundle_s"], replay["from"], replay["speed"]) == (
        False, 0.0, 0.0, 1, 4.0)
    assert replay["columns"] is None and replay["map"] is None
    assert replay["input"] is None and replay["options"] is None  # a description without them


async def test_a_mode_with_hidden_information_holds_its_feed_back_by_its_own_minimum() -> None:
    feeds = store()
    feeds.set_info("cards1", MatchInfo("cards1", mode="cards", state="running", min_delay_s=40.0), live=True)
    feeds.add("cards1", "k", 1, b"k")
    p = await plan("/v1/watch/cards1", feeds)  # asks for no delay
    assert (p.replay, p.delay_s, p.min_delay_s) == (False, 40.0, 40.0)
    assert (await plan("/v1/watch/cards1?delay=60", feeds)).delay_s == 60.0
    seek = await plan("/v1/watch/cards1?from=1", feeds)
    assert seek.replay and seek.min_delay_s == 40.0  # a seek never shows fresher entries either
    # The relay's own minimum for the mode wins when it is the larger one.
    feeds.set_info("ranked2", MatchInfo("ranked2", mode="ranked", state="running", min_delay_s=1.0), live=True)
    feeds.add("ranked2", "k", 1, b"k")
    assert (await plan("/v1/watch/ranked2", feeds)).min_delay_s == 2.0
    assert msgpack.unpackb(hello(p))["min_delay_s"] == 40.0


def test_a_described_minimum_delay_round_trips_and_bad_values_are_dropped() -> None:
    info = MatchInfo("m", mode="cards", min_delay_s=12.5)
    assert MatchInfo.parse("m", info.fields()) == info
    assert "min_delay_s" not in MatchInfo("m").fields()
    for bad in ('"12"', "-1", "true", "1e9"):
        assert MatchInfo.parse("m", {**info.fields(), "min_delay_s": bad}).min_delay_s is None
