"""The mode API's conformance suite (elysium.testing.modes) on cards."""

from __future__ import annotations

import random
from typing import Any

import pytest

from elysium.modes import Snapshot
from elysium.testing.modes import CHECKS, Scenario, run_check
from gameserver.bots import pick_card
from gameserver.modes.cards import DEADLINE, Cards

FAST = {"turn_time_s": 0.1, "pause_s": 0.1}


def player(snap: Snapshot, seat: int, rng: random.Random) -> list[Any]:
    """The demo bots' choice on the seat's turn; now and then a random card (mostly refused)."""
    if rng.random() < 0.1:
        return [rng.randrange(-1, 32)]
    if snap.players[seat, DEADLINE] == 0:
        return [-1]
    card = pick_card(seat, snap.objects.tolist())
    return [-1 if card is None else card]


SCENARIOS = {
    "": Scenario(options={**FAST, "hand_size": 3}, policy=player),
    "rounds": Scenario(options={**FAST, "hand_size": 2, "rounds": 2, "score_limit": 1000}, policy=player),
    "score": Scenario(options={**FAST, "hand_size": 4, "rounds": 20, "score_limit": 3}, seats=2, policy=player),
    "time": Scenario(options={"turn_time_s": 5.0, "rounds": 20, "time_limit_s": 10.0}, policy=player),
}


@pytest.mark.parametrize("check", CHECKS)
def test_cards_conforms(check: str) -> None:
    run_check(check, Cards, scenarios=SCENARIOS)
