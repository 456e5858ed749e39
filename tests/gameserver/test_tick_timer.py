"""The tick loop on uvloop, whose timers count whole milliseconds: one pass over the grid per deadline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import uvloop

from gameserver.client import GameClient
from gameserver.room import MatchId
from gameserver.server import GameServer
from tests.gameserver.conftest import make_settings, url
from tests.waiting import until


def test_the_tick_loop_does_not_spin_while_it_waits_for_a_deadline(redis_url: str, keys_dir: Path,
                                                                    mint: Any) -> None:
    """A uvloop timer fires up to 1 ms before its deadline; waiting again for the rest spun the
    loop through about sixty empty passes over every room's clock per wait."""

    async def body() -> tuple[int, int]:
        server = GameServer(make_settings(redis_url, keys_dir))
        await server.start()
        client = GameClient(url(server))
        try:
            await client.join(mint("solo", "m-timer", seats=2, min_players=1, time_limit_s=60))
            grid = server.scheduler.grid
            room = server.rooms[MatchId("m-timer")]
            real_due = grid.due
            passes = 0

            def counting_due(now: float) -> list[MatchId]:
                nonlocal passes
                passes += 1
                return real_due(now)

            grid.due = counting_due  # type: ignore[method-assign]
            first = room.prev.tick
            await until(lambda: room.prev.tick >= first + 40, timeout_s=10, what="40 ticks")
            return passes, room.prev.tick - first
        finally:
            await client.close()
            await server.stop()

    passes, ticks = uvloop.run(body())
    # One pass per tick (a deadline), plus the odd wake-up for other work (a join, a stop).
    assert passes <= 2 * ticks + 5, f"{passes} passes over the grid for {ticks} ticks"
