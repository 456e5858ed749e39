"""The pure parts: feed buffer, decoder, request parsing, settings, live channels (fan-out: test_fanout)."""

from __future__ import annotations

import msgpack
import pytest

from elysium import config
from elysium.config import ConfigError
from elysium.ws import frames
from spectator import protocol as sp
from elysium.feeds import FeedEntry
from spectator.feed import END, GAP, Entry, FeedBuffer, FeedDecoder, marker
from spectator.settings import SpectatorSettings


def entry(kind: str, tick: int, at: float, payload: bytes = b"x") -> Entry:
    raw = FeedEntry.parse(f"{int(at * 1000)}-0".encode(), {b"k": kind.encode(), b"n": str(tick).encode(), b"b": payload})
    return FeedDecoder("m").decode(raw)


def feed(*kinds: str) -> FeedBuffer:
    buf = FeedBuffer(1000)
    for i, kind in enumerate(kinds):
        buf.append(entry(kind, i, 100 + i))
    return buf


# --- FeedBuffer -----------------------------------------------------------------------------


def test_start_points_are_keyframes_and_never_cross_a_gap() -> None:
    buf = feed("d", "k", "d", "e", "k", "d")
    assert buf.start_at_or_before(0) is None
    assert buf.start_at_or_before(3) == 1
    assert buf.start_at_or_before(5) == 4
    buf.append(marker(GAP, 200.0))
    buf.append(entry("d", 7, 201))
    assert buf.start_at_or_before(7) is None
    buf.append(entry("k", 8, 202))
    assert buf.start_at_or_before(8) == 8


def test_trim_keeps_what_each_cursor_resumes_from() -> None:
    buf = feed("k", "d", "d", "k", "d", "d", "k", "d")
    buf.trim([8, 5])
    assert buf.base == 3 and buf[3].kind == "k"
    buf.trim([8])
    assert buf.base == 6
    buf.trim([])  # no cursor: nothing decided
    assert buf.base == 6


def test_hard_cap_drops_the_oldest_entries() -> None:
    buf = FeedBuffer(3)
    for i in range(5):
        buf.append(entry("k" if i % 2 == 0 else "d", i, 100 + i))
    assert len(buf) == 3 and buf.base == 2 and list(buf.starts) == [2, 4]


def test_prepend_keeps_absolute_indices() -> None:
    buf = feed("d", "d")
    older = [entry("k", -2, 90), entry("d", -1, 91)]
    buf.prepend(older)
    assert buf.base == -2 and buf.start_at_or_before(1) == -2
    assert [e.tick for e in buf.slice(-2, 2)] == [-2, -1, 0, 1]


def test_due_end_releases_by_time() -> None:
    buf = feed("k", "d", "d", "d")
    assert buf.due_end(0, 101.5) == 2
    assert buf.first_after(99) == 0 and buf.first_after(500) == 4


# --- FeedDecoder ----------------------------------------------------------------------------


def test_decoder_frames_once_and_puts_results_in_the_end_notice() -> None:
    decoder = FeedDecoder("duel")
    events = msgpack.packb({"t": "events", "n": 9, "e": [{"k": "end", "reason": "score", "results": [{"seat": 0}]}]})
    e = decoder.decode(FeedEntry.parse(b"1000-0", {b"k": b"e", b"n": b"9", b"b": events}))
    assert e is not None and e.framed == frames.frame_binary(events) and not e.start
    final = decoder.decode(FeedEntry.parse(b"1000-1", {b"k": b"end", b"n": b"9", b"b": b"\x81\xa1t\xa8keyframe"}))
    assert final is not None and final.start and final.kind == END and final.terminal
    reader = frames.FrameReader(1 << 20, expect_mask=False)
    first, notice = reader.feed(final.framed)
    assert first.data == b"\x81\xa1t\xa8keyframe"
    assert sp.unpack(notice.data) == {"t": "end", "match": "duel", "n": 9, "reason": "score", "results": [{"seat": 0}]}


def test_origin_flag_makes_the_first_entry_a_start() -> None:
    e = FeedDecoder("m").decode(FeedEntry.parse(b"1-0", {b"k": b"d", b"n": b"0", b"b": b"x"}), origin=True)
    assert e is not None and e.start


# --- requests and messages ------------------------------------------------------------------


def test_watch_target_parsing() -> None:
    req = sp.parse_watch_target("/v1/watch/m-1?delay=2.5", 60)
    assert req == sp.WatchRequest("m-1", 2.5, None, 1.0)
    assert sp.parse_watch_target("/v1/watch/m%3A1?from=start&speed=4", 60) == sp.WatchRequest("m:1", None, 0, 4.0)
    assert sp.parse_watch_target("/v1/watch/m?from=120", 60).from_tick == 120


@pytest.mark.parametrize("target, words", [
    ("/v1/watch/", "match id"),
    ("/v1/watch/a%2Fb", "match id"),
    ("/v1/watch/" + "x" * 65, "match id"),
    ("/v1/watch/m?delay=-1", "delay"),
    ("/v1/watch/m?delay=61", "delay"),
    ("/v1/watch/m?delay=nan", "delay"),
    ("/v1/watch/m?delay=soon", "delay"),
    ("/v1/watch/m?from=-3", "from"),
    ("/v1/watch/m?from=99999999999", "from"),
    ("/v1/watch/m?speed=100", "speed"),
    ("/v1/watch/m?from=%C2%B2", "from"),  # '²' is a digit to str.isdigit() and not a number to int()
    ("/v1/watch/m?from=%D9%A1%D9%A2", "from"),  # Arabic-Indic digits, which int() takes
    ("/v1/watch/m?from=+3", "from"),
    ("/v1/watch/m?delay=%C2%B2", "delay"),
    ("/v1/watch/m?delay=1e1", "delay"),
    ("/v1/watch/m?delay=%EF%BC%95", "delay"),  # a fullwidth 5, which float() takes
    ("/v1/watch/m?speed=inf", "speed"),
    ("/v1/watch/m?speed=%204", "speed"),
    ("/v1/watch/m?delay=1&delay=2", "twice"),
    ("/v1/watch/m?delay=1&from=3", "not both"),
    ("/v1/watch/m?colour=red", "unknown query parameter"),
    ("/v1/watch/m?token=", "token must be 1 to"),
])
def test_bad_watch_targets_are_refused(target: str, words: str) -> None:
    with pytest.raises(sp.WatchRefused) as err:
        sp.parse_watch_target(target, 60)
    assert err.value.code == sp.BAD_REQUEST and words in err.value.message


@pytest.mark.parametrize("data, code", [
    (b"\xc1", sp.BAD_FRAME),
    (msgpack.packb([1, 2]), sp.BAD_FRAME),
    (msgpack.packb({"t": "input", "i": []}), sp.UNKNOWN_TYPE),
    (msgpack.packb({"t": 5}), sp.BAD_FIELD),
    (msgpack.packb({"t": "ping", "id": -1}), sp.BAD_FIELD),
    (msgpack.packb({"t": "ping", "id": 1, "ts": True}), sp.BAD_FIELD),
    (b"\x81" + b"\xa1t" + b"\xda" + (300).to_bytes(2, "big") + b"a" * 300, sp.BAD_FRAME),
    (b"x" * 600, sp.TOO_LARGE),
])
def test_watcher_messages_are_checked(data: bytes, code: str) -> None:
    with pytest.raises(sp.ProtocolViolation) as err:
        sp.decode_watcher(data, 512)
    assert err.value.code == code


def test_watcher_may_ping_and_leave() -> None:
    assert sp.decode_watcher(msgpack.packb({"t": "ping", "id": 7, "ts": 5}), 512) == sp.Ping(7, 5)
    assert sp.decode_watcher(msgpack.packb({"t": "leave"}), 512) == sp.Leave()


# --- settings ----------------------------------------------------------------------------------


def test_settings_validate_mode_delays() -> None:
    settings = config.load(SpectatorSettings, environ={"ELYSIUM_REDIS_URL": "redis://x",
                                                       "ELYSIUM_SPECTATOR_MODE_MIN_DELAYS": "ranked=30, duel=5"})
    assert settings.min_delay_s("ranked") == 30 and settings.min_delay_s("arena") == 0
    assert settings.min_delay_s(None) == 30  # an unknown mode gets the strictest delay
    for env, variable in [
        ({"ELYSIUM_SPECTATOR_MODE_MIN_DELAYS": "ranked"}, "ELYSIUM_SPECTATOR_MODE_MIN_DELAYS"),
        ({"ELYSIUM_SPECTATOR_MODE_MIN_DELAYS": "ranked=soon"}, "ELYSIUM_SPECTATOR_MODE_MIN_DELAYS"),
        ({"ELYSIUM_SPECTATOR_MODE_MIN_DELAYS": "ranked=400", "ELYSIUM_SPECTATOR_MAX_DELAY_S": "300"},
         "ELYSIUM_SPECTATOR_MODE_MIN_DELAYS"),
        ({"ELYSIUM_SPECTATOR_CLOSE_BYTES": "10", "ELYSIUM_SPECTATOR_SKIP_BYTES": "20"},
         "ELYSIUM_SPECTATOR_CLOSE_BYTES"),
        ({"ELYSIUM_SPECTATOR_PORT": "http"}, "ELYSIUM_SPECTATOR_PORT"),
        ({"ELYSIUM_SPECTATOR_BUNDLE_S": "2"}, "ELYSIUM_SPECTATOR_BUNDLE_S"),
        ({"ELYSIUM_SPECTATOR_BUNDLE_S": "-0.1"}, "ELYSIUM_SPECTATOR_BUNDLE_S"),
        ({"ELYSIUM_SPECTATOR_WORKERS": "0"}, "ELYSIUM_SPECTATOR_WORKERS"),
    ]:
        with pytest.raises(ConfigError) as err:
            config.load(SpectatorSettings, environ={"ELYSIUM_REDIS_URL": "redis://x", **env})
        assert err.value.variable == variable
    with pytest.raises(ConfigError) as err:
        config.load(SpectatorSettings, environ={})
    assert err.value.variable == "ELYSIUM_REDIS_URL"


def test_every_setting_is_named_and_documented() -> None:
    for var in config.describe(SpectatorSettings):
        assert var.env.startswith("ELYSIUM_") and var.help


def test_live_channels_round_delays_up_and_bundle_only_above_the_minimum_delay() -> None:
    from spectator.live import live_channel

    assert live_channel(0.0, 0.0, 0.1) == (0.0, 0.0)  # live: every tick alone, at once
    assert live_channel(1.5, 0.0, 0.1) == (1.5, 0.1)
    assert live_channel(1.01, 0.0, 0.1) == (1.1, 0.1)  # rounded up to the 100 ms channel, never down
    assert live_channel(0.0, 1.04, 0.1) == (1.1, 0.06)  # the mode's minimum holds, bundle included
    assert live_channel(1.0, 1.0, 0.1) == (1.0, 0.0)  # at the minimum: no tick may come early
    assert live_channel(3.0, 1.0, 0.0) == (3.0, 0.0)  # bundling switched off
