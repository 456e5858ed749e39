"""The Redis key layout shared by every service. ``docs/redis-keys.md`` explains it.

Redis holds coordination only. Every key here has an owner and either an expiry or a
length cap, so a dead process leaves nothing behind for long.
"""

from __future__ import annotations

PREFIX = "elysium:"

# Game-server registry: one JSON value per server with an expiry (the heartbeat), and a
# sorted set of server ids scored by last heartbeat time (ms) for discovery. Readers prune
# members older than the heartbeat expiry; the value itself vanishes on its own.
SERVERS_LIVE = PREFIX + "gs:live"


def server(server_id: str) -> str:
    return f"{PREFIX}gs:{server_id}"


# Join-token replay guard: SET NX with the token's remaining lifetime.
def join_token_used(jti: str) -> str:
    return f"{PREFIX}jti:{jti}"


# Spectator feed: one length-capped stream per match with the exact msgpack bytes that
# players receive (field ``b``), the frame kind (``k``: keyframe, delta, events, end) and the
# tick (``n``). A hash describes the match for listings.
def match_feed(match_id: str) -> str:
    return f"{PREFIX}feed:{match_id}"


def match_info(match_id: str) -> str:
    return f"{PREFIX}match:{match_id}"


# Live and recently finished matches, scored by last update (ms).
MATCHES_LIVE = PREFIX + "matches:live"
MATCHES_DONE = PREFIX + "matches:done"

# Match results: one stream for all matches; entries carry ``match_id`` (the idempotency key)
# and ``result`` (JSON). A marker per match keeps a server from appending twice.
RESULTS_STREAM = PREFIX + "results"
RESULTS_MAXLEN = 100_000


def result_written(match_id: str) -> str:
    return f"{PREFIX}results:written:{match_id}"


# The social graph (``elysium.social``): commerce mirrors each player's friends and the
# players they blocked from MongoDB into one set each. A mirrored set always holds the
# member ``~`` (never a player id), so an empty graph and a missing mirror differ; a set
# without it is rebuilt from MongoDB by commerce. Bounded by commerce's friend and block caps.
def social_friends(player_id: str) -> str:
    return f"{PREFIX}social:friends:{player_id}"


def social_blocks(player_id: str) -> str:
    return f"{PREFIX}social:blocks:{player_id}"


# Presence (``elysium.presence``): one expiring string per player and live state
# (online, in_queue, in_match, watching), written only by the service that knows that state.
def presence(player_id: str, state: str) -> str:
    return f"{PREFIX}presence:{player_id}:{state}"

# Moderation (elysium.moderation; commerce is the only writer). Two sorted sets, member the
# player id, score the end of the ban or mute (ms; +inf until lifted), trimmed of ended
# members by every write and rebuilt from MongoDB when commerce starts; and one capped
# stream of the changes, which every service follows.
MODERATION_BANNED = PREFIX + "moderation:banned"
MODERATION_MUTED = PREFIX + "moderation:muted"
MODERATION_EVENTS = PREFIX + "moderation:events"
