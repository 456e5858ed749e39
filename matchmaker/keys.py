"""The matchmaker's Redis keys. Every key written here has an owner and an expiry or a
clean-up; ``docs/matchmaker.md`` lists them. The game server's keys live in ``elysium.keys``."""

from __future__ import annotations

PREFIX = "elysium:mm:"


def ticket(ticket_id: str) -> str:
    """Hash: one ticket. Expires ticket_ttl + forming timeout + retention after creation,
    and ``ticket_retention_s`` after it is matched, cancelled or expired."""
    return f"{PREFIX}ticket:{ticket_id}"


def queue(mode: str) -> str:
    """Sorted set: queued ticket ids of one mode, scored by creation time (ms). Members leave
    when claimed, cancelled or expired; the key vanishes when empty."""
    return f"{PREFIX}queue:{mode}"


def entries(mode: str) -> str:
    """Hash: what the matching core needs of each queued ticket of one mode (JSON), by ticket id;
    fields leave with the queue members, the key vanishes when empty."""
    return f"{PREFIX}entries:{mode}"


def waiting(mode: str) -> str:
    """Hash: players queued per nearest region of one mode; fields are deleted at zero."""
    return f"{PREFIX}waiting:{mode}"


def player(player_id: str) -> str:
    """String: the player's active ticket id (a custom game's ticket while the player sits in
    it); deleted when the ticket ends or the player leaves the game, expires with it."""
    return f"{PREFIX}player:{player_id}"


# Sorted set: tickets being placed in a match, scored by the deadline (ms) after which a
# sweep queues them again (a replica died mid-way). Members leave on success or release.
FORMING = PREFIX + "forming"


def party(code: str) -> str:
    """Hash: leader, members (JSON) and the party's ticket. Expires party_ttl_s after the last change."""
    return f"{PREFIX}party:{code}"


def member(player_id: str) -> str:
    """String: the party code of a player; same expiry as the party, deleted on leave."""
    return f"{PREFIX}member:{player_id}"


def game(code: str) -> str:
    """String: the ticket id of the custom game with this join code. Expires with the game's
    ticket (``ELYSIUM_GAME_IDLE_S`` after its last change; ``ticket_retention_s`` once started);
    deleted when the last member leaves."""
    return f"{PREFIX}game:{code}"


def lobby(mode: str, region: str) -> str:
    """Sorted set: the lobby browser's public custom games with a free seat, one mode and region.
    Members ``{created_ms:013d}.{code}`` (all scored 0, so the order is lexical: oldest first);
    removed when the game fills, locks, starts or empties, and lazily when its ticket is gone.
    The key expires ``ELYSIUM_GAME_IDLE_S`` after the last game was added."""
    return f"{PREFIX}lobby:{mode}:{region}"


def seats(server_id: str) -> str:
    """Sorted set: seat claims on one game server, member match id, scored by the claim's expiry
    (ms). Expired members are removed by every claim; the key expires with the newest claim."""
    return f"{PREFIX}seats:{server_id}"


def seat_book(server_id: str) -> str:
    """Hash beside :func:`seats`: match id -> "seats|claimed_ms", and running totals ``_seats`` and
    ``_rooms``; changed only together with the sorted set, same expiry."""
    return f"{PREFIX}seatbook:{server_id}"


def waits(mode: str) -> str:
    """List: waits (ms) of the latest matched tickets of a mode, capped; expires stats_window_s
    after the last match."""
    return f"{PREFIX}waits:{mode}"


# Pub/sub channel (not a key): status changes of tickets, messages "<status> <ticket id>...".
EVENTS = PREFIX + "events"
WAITS_KEPT = 500
RATINGS_GROUP = "matchmaker-ratings"
