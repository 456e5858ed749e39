"""The bots' king-of-the-hill behaviour, without a server: what it sends for a given replica."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest

from gameserver.bots import HillBot
from gameserver.modes import koth_rules as kr
from gameserver.modes.koth import KingOfTheHill

WELCOME: dict[str, Any] = {"map": dict(KingOfTheHill.MAP)}
HILL = {"id": 3, "x_cm": 2400, "y_cm": 1600, "radius_cm": 400, "owner": -1, "capturer": -1, "progress_pct": 0}


def player(x_m: float, y_m: float, *, team: int = 0, stamina: int = 100, stunned: int = 0) -> dict[str, int]:
    return {"x_cm": int(x_m * 100), "y_cm": int(y_m * 100), "stamina": stamina, "team": team, "stunned": stunned,
            "on_hill": 0, "score": 0, "captures": 0, "shoves": 0}


def test_a_bot_makes_for_a_spot_on_the_hill_and_sprints_while_far_and_rested() -> None:
    bot = HillBot(WELCOME, random.Random(1))
    mx, my, sprint, shove = bot.steer(player(3, 16), [], HILL)
    sx, sy = bot.spot
    assert math.hypot(sx - 24, sy - 16) <= 4 * 0.6 + 1e-9  # a spot well inside the hill
    assert math.hypot(mx, my) == pytest.approx(1.0) and mx > 0.9  # heading right, towards it
    assert sprint and not shove
    assert bot.steer(player(3, 16, stamina=30), [], HILL)[2] is False  # tired: walks
    assert bot.steer(player(sx - 2, sy), [], HILL)[2] is False  # close: walks
    assert bot.steer(player(sx, sy), [], HILL)[:2] == (0.0, 0.0)  # there: stays


def test_a_bot_follows_the_hill_when_it_moves() -> None:
    bot = HillBot(WELCOME, random.Random(2))
    bot.steer(player(3, 16), [], HILL)
    moved = {**HILL, "id": 9, "y_cm": 600}
    _, my, _, _ = bot.steer(player(24, 16), [], moved)
    assert abs(bot.spot[1] - 6) <= 2.4 and my < 0  # heading down, to the new site


def test_a_bot_shoves_an_enemy_in_reach_but_not_a_stunned_one_or_one_too_far() -> None:
    bot = HillBot(WELCOME, random.Random(3))
    me = player(20, 16)
    assert bot.steer(me, [player(21.5, 16, team=1)], HILL)[3] is True
    assert bot.steer(me, [player(21.5, 16, team=1, stunned=1)], HILL)[3] is False
    assert bot.steer(me, [player(22.5, 16, team=1)], HILL)[3] is False


def test_without_a_hill_row_a_bot_heads_for_the_centre() -> None:
    bot = HillBot(WELCOME, random.Random(4))
    mx, my, _, _ = bot.steer(player(21, 12), [], None)
    assert bot.spot == (24.0, 16.0) and (mx, my) == pytest.approx((0.6, 0.8))


@pytest.mark.parametrize("site", range(len(kr.HILL_SITES)))
def test_from_every_spawn_a_bot_walks_round_the_obstacles_onto_every_hill_site(site: int) -> None:
    """Driven through the real rules: straight lines from some spawns run into a box and stick."""
    slowest = 0
    for team in (0, 1):
        for spawn_y in kr.SPAWN_Y:
            for seed in range(3):
                g = kr.KingOfTheHill(1, kr.Rules(tick_hz=20), np.random.default_rng(0))
                g.join(0, team)
                g.pos[0] = (kr.SPAWN_X[team], spawn_y)
                g.site_order = [site, *(s for s in range(len(kr.HILL_SITES)) if s != site)]
                g._publish_hill()
                bot = HillBot(WELCOME, random.Random(seed))
                for tick in range(1, 20 * 6 + 1):
                    me = dict(zip(kr.PLAYER_COLUMNS, g.wire[0].tolist()))
                    hill = dict(zip(kr.HILL_COLUMNS, g.hill[0].tolist()))
                    mx, my, sprint, _ = bot.steer(me, [], hill)
                    controls = kr.Controls.idle(1)
                    controls.move[0] = (mx, my)
                    controls.sprint[0] = sprint
                    g.step(controls)
                    if g.wire[0, kr.ON_HILL]:
                        break
                assert g.wire[0, kr.ON_HILL], (team, spawn_y, seed, g.pos[0].tolist())
                slowest = max(slowest, tick)
    assert slowest <= 20 * 5
