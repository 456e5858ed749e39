"""Cards: the pure rules of a plain-trick game for 2 to 4 players with hidden hands.

No I/O, no clock, no engine types: a :class:`Game` is advanced one step at a time with the
moves the seats made in that step, and tells what happened. ``docs/modes-cards.md`` is the
player's description of these rules; this module is their one implementation.

- **Deck.** 32 cards: four suits (clubs 0, diamonds 1, hearts 2, spades 3) of eight ranks
  (7, 8, 9, 10, J, Q, K, A as 0..7). A card is ``suit * 8 + rank`` (0..31).
- **Deal.** Each round the whole deck is shuffled with the match's seeded generator; every
  player gets ``hand_size`` cards, and the next card is turned up: its suit is trumps.
  The rest (the stock) is never played.
- **Tricks.** The player after the dealer leads the first trick; the winner of a trick
  leads the next. A player must follow the led suit when they hold it; otherwise any card.
  The highest trump wins the trick, or, with no trump in it, the highest card of the led
  suit. Each trick won scores one point. A round is ``hand_size`` tricks.
- **Turns.** A player has ``turn_ticks`` steps to play. A turn that times out, and the turn
  of a player who left, plays the **default move**: the legal card of the lowest rank (of
  the lowest suit among equal ranks).
- **End.** After ``rounds`` rounds (reason ``rounds``), or after the round in which a side
  (a player, or a team's players together) reaches ``score_limit`` (``score``).

A move that breaks a rule changes nothing and is refused with a reason only its player
learns (the reason of a ``must_follow`` refusal would tell others what that player holds).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

SUITS: Final = 4
RANKS: Final = 8
DECK: Final = SUITS * RANKS
SUIT_NAMES: Final = ("clubs", "diamonds", "hearts", "spades")
RANK_NAMES: Final = ("7", "8", "9", "10", "J", "Q", "K", "A")
MAX_PLAYERS: Final = 4
MAX_HAND: Final = 7  # 4 players x 7 cards leave at least one card to turn up for trumps

# Why a move was refused (the ``why`` of a ``refused`` event).
NOT_YOUR_TURN: Final = "not_your_turn"
NOT_IN_HAND: Final = "not_in_hand"
MUST_FOLLOW: Final = "must_follow"

# Object kinds (the ``kind`` column of an object row).
HAND: Final = 1  # a card in a player's hand (seen by that player only)
TABLE: Final = 2  # a card played to the current trick (seen by all)
TRUMP: Final = 3  # the card turned up for trumps (seen by all)
STOCK: Final = 4  # a card left in the stock (seen by nobody at the table; in the full view)


def suit_of(card: int) -> int:
    return card // RANKS


def rank_of(card: int) -> int:
    return card % RANKS


def card_name(card: int) -> str:
    return f"{RANK_NAMES[rank_of(card)]} of {SUIT_NAMES[suit_of(card)]}"


class Phase(enum.Enum):
    WAITING = "waiting"  # no round dealt yet
    PLAY = "play"  # a player is to act
    TRICK_PAUSE = "trick_pause"  # a full trick lies on the table before it is cleared
    OVER = "over"


@dataclass(frozen=True, slots=True)
class Rules:
    """The match's settings, in steps (the mode turns seconds into steps)."""

    hand_size: int = 5
    rounds: int = 3
    turn_ticks: int = 100
    pause_ticks: int = 10  # a full trick stays on the table this long
    score_limit: int = 1000
    teams: int = 0  # 0: every player for themselves; 2: partners opposite each other

    def __post_init__(self) -> None:
        if not 1 <= self.hand_size <= MAX_HAND:
            raise ValueError(f"hand_size must be 1..{MAX_HAND}")
        if self.rounds < 1 or self.turn_ticks < 1 or self.pause_ticks < 1 or self.score_limit < 1:
            raise ValueError("rounds, turn_ticks, pause_ticks and score_limit must be positive")
        if self.teams not in (0, 2):
            raise ValueError("teams must be 0 or 2")

    def round_ticks(self, players: int) -> int:
        """The most steps one round can last with ``players`` players: every turn timing out."""
        return self.hand_size * (players * self.turn_ticks + self.pause_ticks)


@dataclass(frozen=True, slots=True)
class Placed:
    """Where a card is: ``kind`` (HAND, TABLE, TRUMP, STOCK), ``owner`` (a seat, -1 for none),
    ``order`` (position in the hand, in the trick, in the stock)."""

    id: int
    kind: int
    owner: int
    card: int
    order: int

    def row(self) -> tuple[int, int, int, int, int]:
        return (self.id, self.kind, self.owner, self.card, self.order)


@dataclass(slots=True)
class StepResult:
    events: list[dict[str, Any]] = field(default_factory=list)  # seen by everyone
    private: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # seat -> seen by that seat only
    finished: str | None = None


class Game:
    """One match of Cards. Seats are the engine's; players are the seats dealt in."""

    def __init__(self, rules: Rules, seats: int, rng: np.random.Generator) -> None:
        self.rules = rules
        self.seats = seats
        self.rng = rng
        self.tick = 0
        self.phase = Phase.WAITING
        self.present: list[bool] = [False] * seats
        self.team: list[int] = [0] * seats
        self.away: set[int] = set()  # seats that left: their turns play the default move at once
        self.players: list[int] = []  # seats dealt in this round, in playing order
        self.hands: dict[int, list[int]] = {}  # seat -> cards, sorted
        self.tricks = [0] * seats  # this round
        self.score = [0] * seats  # the match
        self.played_ticks = [0] * seats
        self.round_no = 0
        self.dealer = -1
        self.trump_card = -1
        self.stock: list[int] = []
        self.trick: list[tuple[int, int]] = []  # (seat, card), in play order
        self.turn = -1  # the seat to act, -1 for none
        self.deadline = 0  # the step at which the turn times out
        self.pause_until = 0
        self.leader = -1
        self.objects: dict[tuple[int, int, int], Placed] = {}  # (kind, owner, card) -> where it lies
        self.next_id = 1
        self.version = 0  # bumps whenever an object appears or goes, or a seat joins or leaves

    # --- seats ------------------------------------------------------------------------

    def join(self, seat: int, team: int) -> None:
        self.present[seat] = True
        self.team[seat] = team
        self.away.discard(seat)
        self.version += 1

    def leave(self, seat: int) -> None:
        self.present[seat] = False
        if seat in self.players:
            self.away.add(seat)  # still dealt in: its turns are played for it
        self.version += 1

    # --- queries -------------------------------------------------------------------------

    def legal(self, seat: int) -> list[int]:
        """The cards ``seat`` may play now (empty when it is not its turn)."""
        if self.phase is not Phase.PLAY or seat != self.turn:
            return []
        hand = self.hands.get(seat, [])
        if self.trick:
            led = suit_of(self.trick[0][1])
            follow = [c for c in hand if suit_of(c) == led]
            if follow:
                return follow
        return list(hand)

    def default_move(self, seat: int) -> int:
        return min(self.legal(seat), key=lambda c: (rank_of(c), suit_of(c)))

    def check(self, seat: int, card: int) -> str | None:
        """Why ``seat`` may not play ``card`` now (None: it may)."""
        if self.phase is not Phase.PLAY or seat != self.turn:
            return NOT_YOUR_TURN
        hand = self.hands.get(seat, [])
        if card not in hand:
            return NOT_IN_HAND
        if card not in self.legal(seat):
            return MUST_FOLLOW
        return None

    def trump(self) -> int:
        return suit_of(self.trump_card) if self.trump_card >= 0 else -1

    def side_scores(self) -> dict[int, int]:
        """Score per side: per team with teams, else per seat (seats ever dealt in)."""
        sides: dict[int, int] = {}
        for seat in range(self.seats):
            if self.played_ticks[seat] == 0 and not self.present[seat]:
                continue
            side = self.team[seat] if self.rules.teams else seat
            sides[side] = sides.get(side, 0) + self.score[seat]
        return sides

    def max_round_ticks(self) -> int:
        return self.rules.round_ticks(MAX_PLAYERS)

    # --- the step ---------------------------------------------------------------------------

    def step(self, moves: Mapping[int, int]) -> StepResult:
        """Advance one step; ``moves`` holds the card each seat asked to play in it."""
        self.tick += 1
        out = StepResult()
        for seat in range(self.seats):
            if self.present[seat]:
                self.played_ticks[seat] += 1
        if self.phase is Phase.WAITING:
            self._deal(out)
        for other, asked in moves.items():
            if other == self.turn and self.phase is Phase.PLAY:
                continue  # the seat to act is handled below
            out.private.setdefault(other, []).append({"k": "refused", "who": other, "card": asked,
                                                      "why": NOT_YOUR_TURN})
        if self.phase is Phase.PLAY:
            seat = self.turn
            card = moves.get(seat)
            if card is not None:
                why = self.check(seat, card)
                if why is not None:
                    out.private.setdefault(seat, []).append({"k": "refused", "who": seat, "card": card, "why": why})
                    card = None
            if card is None and (self.tick >= self.deadline or seat in self.away):
                card = self.default_move(seat)
                out.events.append({"k": "timeout", "who": seat})
            if card is not None:
                self._play(seat, card, out)
        elif self.phase is Phase.TRICK_PAUSE and self.tick >= self.pause_until:
            self._clear_trick(out)
        return out

    def _deal(self, out: StepResult) -> None:
        seated = [s for s in range(self.seats) if self.present[s]]
        if not seated:
            return
        self.round_no += 1
        self.players = seated
        self.away = set()
        self.dealer = seated[(self.round_no - 1) % len(seated)]
        for placed in list(self.objects.values()):
            self._remove(placed)
        deck = [int(c) for c in self.rng.permutation(DECK)]
        n = self.rules.hand_size
        self.hands = {}
        for i, seat in enumerate(seated):
            self.hands[seat] = sorted(deck[i * n:(i + 1) * n])
            for order, card in enumerate(self.hands[seat]):
                self._place(HAND, seat, card, order)
        self.trump_card = deck[len(seated) * n]
        self._place(TRUMP, -1, self.trump_card, 0)
        self.stock = deck[len(seated) * n + 1:]
        for order, card in enumerate(self.stock):
            self._place(STOCK, -1, card, order)
        self.tricks = [0] * self.seats
        self.trick = []
        out.events.append({"k": "deal", "round": self.round_no, "dealer": self.dealer, "trump": self.trump_card,
                           "players": list(seated), "hand_size": n})
        self._give_turn(self._after(self.dealer))

    def _after(self, seat: int) -> int:
        players = self.players
        return players[(players.index(seat) + 1) % len(players)]

    def _give_turn(self, seat: int) -> None:
        self.phase = Phase.PLAY
        self.turn = seat
        self.deadline = self.tick + self.rules.turn_ticks

    def _play(self, seat: int, card: int, out: StepResult) -> None:
        hand = self.hands[seat]
        hand.remove(card)
        self._remove(self.objects[HAND, seat, card])
        # The cards left in the hand keep their places: only the played one goes away.
        self._place(TABLE, seat, card, len(self.trick))
        self.trick.append((seat, card))
        out.events.append({"k": "play", "who": seat, "card": card})
        if len(self.trick) < len(self.players):
            self._give_turn(self._after(seat))
            return
        winner = self._winner()
        self.tricks[winner] += 1
        self.score[winner] += 1
        out.events.append({"k": "trick", "who": winner, "cards": [c for _, c in self.trick]})
        self.phase = Phase.TRICK_PAUSE
        self.turn = -1
        self.deadline = 0
        self.leader = winner
        self.pause_until = self.tick + self.rules.pause_ticks

    def _winner(self) -> int:
        led = suit_of(self.trick[0][1])
        trump = self.trump()

        def strength(play: tuple[int, int]) -> tuple[int, int]:
            suit = suit_of(play[1])
            return (2 if suit == trump else 1 if suit == led else 0, rank_of(play[1]))

        return max(self.trick, key=strength)[0]

    def _clear_trick(self, out: StepResult) -> None:
        for seat, card in self.trick:
            self._remove(self.objects[TABLE, seat, card])
        self.trick = []
        if any(self.hands[s] for s in self.players):
            self._give_turn(self.leader)
            return
        out.events.append({"k": "round", "round": self.round_no, "tricks": [self.tricks[s] for s in range(self.seats)],
                           "score": list(self.score)})
        sides = self.side_scores()
        if sides and max(sides.values()) >= self.rules.score_limit:
            self._end("score", out)
        elif self.round_no >= self.rules.rounds:
            self._end("rounds", out)
        else:
            self._deal(out)

    def _end(self, reason: str, out: StepResult) -> None:
        self.phase = Phase.OVER
        self.turn = -1
        self.deadline = 0
        for placed in list(self.objects.values()):
            self._remove(placed)
        out.finished = reason

    # --- objects ----------------------------------------------------------------------------

    def _place(self, kind: int, owner: int, card: int, order: int) -> None:
        self.objects[kind, owner, card] = Placed(self.next_id, kind, owner, card, order)
        self.next_id += 1
        self.version += 1

    def _remove(self, placed: Placed) -> None:
        del self.objects[placed.kind, placed.owner, placed.card]
        self.version += 1

    def visible(self, seat: int | None) -> list[Placed]:
        """The objects ``seat`` may see (None: all of them, the full view), by id."""
        # Ids only grow and a moved card is placed anew, so the dict's order is the ids' order.
        if seat is None:
            return list(self.objects.values())
        return [o for o in self.objects.values() if o.kind in (TABLE, TRUMP) or (o.kind == HAND and o.owner == seat)]
