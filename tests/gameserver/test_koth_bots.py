"""The bots' king-of-the-hill behaviour, without a server: what it sends for a given replica."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from gameserver.bots import HillBot
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
    mx, my, _, _ = bot.steer(player(3, 16), [], None)
    assert bot.spot == (24.0, 16.0) and mx == 1.0 and my == 0.0
