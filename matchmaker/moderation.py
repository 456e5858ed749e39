"""What the matchmaker does when an account is banned: its ticket ends and it leaves its party.

The ban itself is commerce's (``elysium.moderation``); this replica follows the moderation
events with a :class:`~elysium.moderation.ModerationWatch` and, for each ban, and for
everyone banned after a start or a lost connection, calls :meth:`BanReactions.release`.
Every replica does so (each reads every event); the steps are safe to repeat: a ticket
that already ended is left alone, and leaving a party one is not in does nothing.

A queued (or forming) ticket is cancelled with reason ``banned``, the whole ticket, so the
banned player's party mates are out of the queue too and may queue again without them. A
ticket already matched is left to end by itself: its join tokens are refused by the game
server, which checks the ban at every join, and the banned player cannot read it (every
request with a banned account's token is refused).
"""

from __future__ import annotations

import logging
import time

from elysium.moderation import ModerationEvent
from matchmaker.parties import PartyBook
from matchmaker.tickets import TicketQueue

log = logging.getLogger("matchmaker.moderation")

BANNED = "banned"  # the reason of a ticket a ban ended


class BanReactions:
    def __init__(self, queue: TicketQueue, parties: PartyBook) -> None:
        self.queue = queue
        self.parties = parties
        self.tickets_ended = 0
        self.parties_left = 0

    async def on_event(self, event: ModerationEvent) -> None:
        if event.action == "ban":
            await self.release(event.player)

    async def on_resync(self, banned: frozenset[str]) -> None:
        for player in sorted(banned):
            await self.release(player)

    async def release(self, player: str) -> None:
        """End the player's active ticket and take them out of their party."""
        ticket_id = await self.queue.active_ticket_of(player)
        ticket = await self.queue.get(ticket_id) if ticket_id else None
        if ticket is not None and ticket["status"] in ("queued", "forming"):
            outcome = await self.queue.cancel(ticket, reason=BANNED, now_ms=int(time.time() * 1000))
            if outcome == "ok":
                self.tickets_ended += 1
                log.info("ticket ended by a ban", extra={"player": player, "ticket": ticket["id"]})
        code = await self.parties.code_of(player)
        if code is not None and await self.parties.leave(code, player) in ("left", "disbanded"):
            self.parties_left += 1
            log.info("party left by a ban", extra={"player": player, "party": code})
