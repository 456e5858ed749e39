"""Cards: a turn-based trick-taking game for 2 to 4 players, with hidden hands.

The rules are :mod:`gameserver.modes.cards_rules` (pure, engine-free); this module is the
mode: it turns the engine's inputs into moves, times turns in steps, and shows each seat
only what that seat may see (per-seat views, ``docs/modes-cards.md``):

- **Player rows** (public): ``cards`` (cards in hand), ``tricks`` (won this round),
  ``score`` (won this match), ``deadline`` (the tick at which the seat's turn times out; 0
  when it is not its turn), ``team``.
- **Object rows** ``[id, kind, owner, card, order]``: a card where it lies. ``kind`` 1 is a
  card in ``owner``'s hand, seen by that seat only; 2 a card played to the trick (``order``
  its place in it) and 3 the card turned up for trumps, seen by all; 4 a card of the stock,
  seen by nobody at the table. A card that moves is a new object (rows never change).
- **Views.** A seat holding cards sees its own hand (view key: the seat); seats with empty
  hands see the same public view (key :data:`PUBLIC`); the full view (every hand and the
  stock) goes to the spectator feed only, whose minimum delay the mode sets past the
  longest round (:meth:`Cards.spectator_delay_s`).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from typing import Any, ClassVar, Final

import numpy as np

from gameserver.modes.base import GameMode, ModeConfig, PlayerResult, Snapshot, StepOutcome
from gameserver.modes.cards_rules import DECK, HAND, MAX_PLAYERS, RANK_NAMES, SUIT_NAMES, TABLE, TRUMP, Game, Rules

PUBLIC: Final = -1  # the view key of seats that hold no cards
TURN_TIME_S: Final = 8.0
PAUSE_S: Final = 1.0
HAND_SIZE: Final = 5
ROUNDS: Final = 3
DELAY_MARGIN: Final = 1.25  # rounds of a room running late last longer than their steps say
DELAY_EXTRA_S: Final = 2.0

CARDS, TRICKS, SCORE, DEADLINE, TEAM = range(5)
OBJECT_WIDTH: Final = 5


def move_of(inp: Any) -> int | None:
    """The card an input asks to play (None: no move)."""
    card = getattr(inp, "card", None)
    if isinstance(card, int) and not isinstance(card, bool) and 0 <= card < DECK:
        return card
    return None


class Cards(GameMode):
    name: ClassVar[str] = "cards"
    player_columns: ClassVar[tuple[str, ...]] = ("cards", "tricks", "score", "deadline", "team")
    motion_columns: ClassVar[int] = 0
    object_columns: ClassVar[tuple[str, ...]] = ("id", "kind", "owner", "card", "order")
    per_seat_views: ClassVar[bool] = True
    MAP: ClassVar[Mapping[str, Any]] = {
        "name": "cards",
        "deck": DECK,
        "suits": list(SUIT_NAMES),
        "ranks": list(RANK_NAMES),
        "max_players": MAX_PLAYERS,
    }

    def __init__(self, config: ModeConfig, *, hand_size: int = HAND_SIZE, rounds: int = ROUNDS,
                 turn_time_s: float = TURN_TIME_S, pause_s: float = PAUSE_S) -> None:
        super().__init__(config)
        if config.seats > MAX_PLAYERS:
            raise ValueError(f"cards seats at most {MAX_PLAYERS} players")
        hz = config.tick_hz
        self.turn_time_s = turn_time_s
        self.pause_s = pause_s
        self.rules = Rules(hand_size=hand_size, rounds=rounds, turn_ticks=max(1, round(turn_time_s * hz)),
                           pause_ticks=max(1, round(pause_s * hz)), score_limit=config.score_limit,
                           teams=2 if config.teams else 0)
        self.game = Game(self.rules, config.seats, np.random.default_rng(config.seed))
        self.time_limit_ticks = max(1, round(config.time_limit_s * hz))
        self.last_seq: dict[int, int] = {}  # seat -> seq of the last input taken as a move
        self._players_key: tuple[Any, ...] | None = None
        self._players_stamp: tuple[int, int] = (-1, -1)
        self._players: tuple[np.ndarray, np.ndarray] | None = None
        self._objects: dict[Hashable, tuple[int, np.ndarray]] = {}  # view key -> (game version, rows)
        self._full = np.zeros((0, OBJECT_WIDTH), dtype=np.int32)  # every object, by id
        self._full_version = -1
        self._public: list[int] = []  # rows of _full everyone sees
        self._hands: dict[int, list[int]] = {}  # seat -> rows of _full only that seat sees

    # --- seats --------------------------------------------------------------------------

    def join(self, seat: int, team: int) -> None:
        self.game.join(seat, team)
        self.last_seq.pop(seat, None)

    def leave(self, seat: int) -> None:
        self.game.leave(seat)

    # --- stepping -----------------------------------------------------------------------

    def step(self, inputs: Mapping[int, Any]) -> StepOutcome:
        moves: dict[int, int] = {}
        for seat, inp in inputs.items():
            card = move_of(inp)
            seq = getattr(inp, "seq", None)
            if card is None or not isinstance(seq, int) or self.last_seq.get(seat) == seq:
                continue  # no move, or the engine repeating the last input
            self.last_seq[seat] = seq
            moves[seat] = card
        result = self.game.step(moves)
        finished = result.finished
        if finished is None and self.game.tick >= self.time_limit_ticks:
            finished = "time"
        return StepOutcome(events=result.events, finished=finished, private=result.private)

    # --- views ----------------------------------------------------------------------------

    def view_key(self, seat: int) -> Hashable:
        return seat if self.game.hands.get(seat) else PUBLIC

    def snapshot(self) -> Snapshot:
        return self.view(None)

    def view(self, key: Hashable) -> Snapshot:
        players, present = self._player_rows()
        return Snapshot(self.game.tick, players, present, self._object_rows(key))

    def _player_rows(self) -> tuple[np.ndarray, np.ndarray]:
        g = self.game
        stamp = (g.tick, g.version)
        if self._players is not None and stamp == self._players_stamp:
            return self._players  # nothing happened since the last call
        self._players_stamp = stamp
        hands = g.hands
        deadline = g.deadline if g.turn >= 0 else 0
        key = (tuple(len(hands.get(s, ())) for s in range(g.seats)), tuple(g.tricks), tuple(g.score), g.turn,
               deadline, tuple(g.team), tuple(g.present))
        if key != self._players_key or self._players is None:
            rows = np.zeros((g.seats, len(self.player_columns)), dtype=np.int32)
            for seat in range(g.seats):
                rows[seat] = (len(hands.get(seat, ())), g.tricks[seat], g.score[seat],
                              deadline if seat == g.turn else 0, g.team[seat])
            self._players_key = key
            self._players = (rows, np.array(g.present, dtype=np.bool_))
        return self._players

    def _object_rows(self, key: Hashable) -> np.ndarray:
        """The objects view ``key`` shows: rows of the full view, picked once per change."""
        g = self.game
        cached = self._objects.get(key)
        if cached is not None and cached[0] == g.version:
            return cached[1]
        if self._full_version != g.version:
            placed = g.visible(None)
            self._full = np.array([o.row() for o in placed], dtype=np.int32).reshape(len(placed), OBJECT_WIDTH)
            self._full_version = g.version
            public: list[int] = []
            hands: dict[int, list[int]] = {}
            for i, o in enumerate(placed):
                if o.kind == TABLE or o.kind == TRUMP:
                    public.append(i)
                elif o.kind == HAND:
                    hands.setdefault(o.owner, []).append(i)
            self._public = public
            self._hands = hands
        if key is None:
            rows = self._full
        else:
            rows = self._full[sorted(self._public + self._hands.get(key, []))]  # type: ignore[call-overload]
        self._objects[key] = (g.version, rows)
        return rows

    def spectator_delay_s(self) -> float:
        """Spectators see every hand; they see it only once the round it belongs to is over."""
        round_s = self.rules.round_ticks(self.config.seats) / self.config.tick_hz
        return float(math.ceil(round_s * DELAY_MARGIN + DELAY_EXTRA_S))

    # --- results ------------------------------------------------------------------------------

    def results(self) -> list[PlayerResult]:
        g = self.game
        return [
            PlayerResult(seat=seat, score=g.score[seat], kills=0, deaths=0,
                         time_played_s=round(g.played_ticks[seat] / self.config.tick_hz, 3), team=g.team[seat])
            for seat in range(g.seats) if g.present[seat] or g.played_ticks[seat] > 0
        ]

    def map_info(self) -> dict[str, Any]:
        return {**self.MAP, "hand_size": self.rules.hand_size, "rounds": self.rules.rounds,
                "turn_time_s": self.turn_time_s, "pause_s": self.pause_s, "score_limit": self.config.score_limit,
                "time_limit_s": self.config.time_limit_s, "spectator_delay_s": self.spectator_delay_s()}
