"""Skill ratings from match results with OpenSkill (Plackett-Luce). Pure: no I/O.

Free-for-all results rank every player by score; team results rank teams by the sum of
their players' scores. Equal scores are ties.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from openskill.models import PlackettLuce

MU = 25.0
SIGMA = MU / 3.0


@dataclass(frozen=True, slots=True)
class Rating:
    mu: float = MU
    sigma: float = SIGMA

    @property
    def ordinal(self) -> float:
        """A conservative single number: mu - 3 sigma."""
        return self.mu - 3.0 * self.sigma


class RatingModel:
    def __init__(self) -> None:
        self.model = PlackettLuce(mu=MU, sigma=SIGMA)

    def rate(self, result: Mapping[str, Any], current: Mapping[str, Rating]) -> dict[str, Rating]:
        """New ratings for the players of one finished match (``result`` as the game server writes it)."""
        players = [p for p in result.get("players", []) if isinstance(p, dict) and isinstance(p.get("player_id"), str)]
        if result.get("teams"):
            groups: dict[int, list[dict[str, Any]]] = {}
            for p in players:
                groups.setdefault(int(p.get("team", 0)), []).append(p)
            sides = list(groups.values())
        else:
            sides = [[p] for p in players]
        if len(sides) < 2:
            return {}
        teams = [[self.model.rating(mu=current.get(p["player_id"], Rating()).mu,
                                    sigma=current.get(p["player_id"], Rating()).sigma) for p in side]
                 for side in sides]
        scores = [float(sum(int(p.get("score", 0)) for p in side)) for side in sides]
        rated = self.model.rate(teams, scores=scores)
        out: dict[str, Rating] = {}
        for side, new_side in zip(sides, rated, strict=True):
            for p, r in zip(side, new_side, strict=True):
                out[p["player_id"]] = Rating(float(r.mu), float(r.sigma))
        return out
