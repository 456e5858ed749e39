"""Match rewards: what each player of a finished match earns, by the rules of its mode. No I/O.

Rules live in the catalog file under ``rewards.<mode>``. Results are the kernel's
:class:`elysium.results.MatchResult`, read by its parser and ranked by its standings. Drops
are decided by a hash of (match id, player id, item id), so the same result always yields
the same rewards: a redelivered or replayed result can never roll the dice twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from commerce import ledger
from commerce.validation import Field, Invalid, check
from elysium.results import MatchResult

PPM = 1_000_000

# End reasons under which nobody won: the match was cut short (``shutdown``: the game server's drain
# deadline; ``error``: the mode's own code failed and the engine ended the room), so the standings
# at that moment name a leader, not a winner. Players are paid what they
# earned by playing (participation, kills, score, drops) and no win bonus.
UNDECIDED_REASONS = frozenset({"shutdown", "error"})


class RulesError(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Drop:
    item: str
    chance_ppm: int  # parts per million


@dataclass(frozen=True)
class Rules:
    currency: ledger.Currency
    participation: int
    per_kill: int
    per_score: int
    win_bonus: int
    max_per_player: int
    min_time_played_s: float
    drops: tuple[Drop, ...] = ()


_AMOUNT = Field(int, min=0, max=ledger.MAX_AMOUNT)
RULES_SCHEMA = {
    "currency": Field(str, choices=ledger.CURRENCIES),
    "participation": _AMOUNT, "per_kill": _AMOUNT, "per_score": _AMOUNT, "win_bonus": _AMOUNT,
    "max_per_player": _AMOUNT,
    "min_time_played_s": Field(int, min=0, max=86_400),
    "drops": Field(list, required=False, max=20),
}
DROP_SCHEMA = {"item": Field(str, min=1, max=64), "chance_ppm": Field(int, min=0, max=PPM)}


def parse_rules(raw: object, known_items: set[str] | frozenset[str] | None = None) -> Rules:
    try:
        body = check(raw, RULES_SCHEMA)
    except Invalid as exc:
        raise RulesError(exc.errors) from None
    drops: list[Drop] = []
    errors: dict[str, str] = {}
    for index, entry in enumerate(body.get("drops", [])):
        try:
            d = check(entry, DROP_SCHEMA)
        except Invalid as exc:
            errors.update({f"drops[{index}].{k}": v for k, v in exc.errors.items()})
            continue
        if known_items is not None and d["item"] not in known_items:
            errors[f"drops[{index}].item"] = f"{d['item']} is not in the catalog"
        drops.append(Drop(d["item"], d["chance_ppm"]))
    if errors:
        raise RulesError(errors)
    return Rules(currency=body["currency"], participation=body["participation"], per_kill=body["per_kill"],
                 per_score=body["per_score"], win_bonus=body["win_bonus"], max_per_player=body["max_per_player"],
                 min_time_played_s=body["min_time_played_s"], drops=tuple(drops))


@dataclass(frozen=True)
class Reward:
    player_id: str
    currency: ledger.Currency
    amount: int
    items: tuple[str, ...] = field(default=())


def rolls(match_id: str, player_id: str, item: str) -> int:
    """A number in [0, PPM) fixed by the inputs."""
    digest = hashlib.sha256(f"{match_id}\x00{player_id}\x00{item}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % PPM


def rewards_for(result: MatchResult, rules: Rules) -> list[Reward]:
    """Each player's reward; the win bonus goes to :meth:`MatchResult.winners` (the kernel's standings),
    unless the match ended undecided (:data:`UNDECIDED_REASONS`)."""
    won = frozenset() if result.reason in UNDECIDED_REASONS else result.winners()
    out: list[Reward] = []
    for p in result.players:
        if p.time_played_s < rules.min_time_played_s:
            continue
        amount = (rules.participation + rules.per_kill * max(0, p.stat("kills")) + rules.per_score * max(0, p.score)
                  + (rules.win_bonus if p.player_id in won else 0))
        amount = min(amount, rules.max_per_player)
        items = tuple(d.item for d in rules.drops if rolls(result.match_id, p.player_id, d.item) < d.chance_ppm)
        if amount > 0 or items:
            out.append(Reward(p.player_id, rules.currency, amount, items))
    return out
