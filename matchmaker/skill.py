"""Skill ratings from match results with OpenSkill (Plackett-Luce). Pure: no I/O.

The sides and their placements are the kernel's (:attr:`elysium.results.MatchResult.sides`):
in a free-for-all every player is a side, in a team match every team, ranked by score with
equal scores tied. A match with fewer than two sides rates nobody.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from openskill.models import PlackettLuce

from elysium.results import MatchResult

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

    def rate(self, result: MatchResult, current: Mapping[str, Rating]) -> dict[str, Rating]:
        """New ratings for the players of one finished match, ranked by its placements."""
        sides = result.sides
        if len(sides) < 2:
            return {}
        teams = [[self.model.rating(mu=current.get(p.player_id, Rating()).mu,
                                    sigma=current.get(p.player_id, Rating()).sigma) for p in side.players]
                 for side in sides]
        rated = self.model.rate(teams, ranks=[float(side.placement) for side in sides])
        out: dict[str, Rating] = {}
        for side, new_side in zip(sides, rated, strict=True):
            for p, r in zip(side.players, new_side, strict=True):
                out[p.player_id] = Rating(float(r.mu), float(r.sigma))
        return out
