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
from typing import Any, ClassVar, Final, NamedTuple

import numpy as np

from elysium.modes import (
    Column,
    Columns,
    FloatOption,
    InputSchema,
    IntOption,
    MoveField,
    Option,
    ResultRow,
    ResultShape,
)
from gameserver.modes.base import GameMode, ModeConfig, Snapshot, StepOutcome
from gameserver.modes.cards_rules import (
    DECK,
    HAND,
    MAX_HAND,
    MAX_PLAYERS,
    RANK_NAMES,
    SUIT_NAMES,
    TABLE,
    TRUMP,
    Game,
    Rules,
)

PUBLIC: Final = -1  # the view key of seats that hold no cards
DELAY_MARGIN: Final = 1.25  # rounds of a room running late last longer than their steps say
DELAY_EXTRA_S: Final = 2.0

CARDS, TRICKS, SCORE, DEADLINE, TEAM = range(5)
OBJECT_WIDTH: Final = 5


class Move(NamedTuple):
    """An input row: ``[seq, card]``, ``card`` the card to play or -1 for no move."""

    seq: int
    card: int


INPUT = InputSchema((MoveField("card", count=DECK),), row_type=Move)
COLUMNS = Columns(
    player=(Column("cards"), Column("tricks"), Column("score"), Column("deadline"), Column("team")),
    object=(Column("id"), Column("kind"), Column("owner"), Column("card"), Column("order")),
)


class Cards(GameMode[Move]):
    name: ClassVar[str] = "cards"
    input_schema: ClassVar[InputSchema] = INPUT
    columns: ClassVar[Columns] = COLUMNS
    options: ClassVar[tuple[Option, ...]] = (
        IntOption("hand_size", "cards dealt to each player per round", lo=1, hi=MAX_HAND, default=5),
        IntOption("rounds", "rounds in a match", lo=1, hi=20, default=3),
        FloatOption("turn_time_s", "seconds a player has for a move", lo=0.1, hi=60.0, default=8.0),
        FloatOption("pause_s", "seconds a full trick stays on the table", lo=0.1, hi=5.0, default=1.0),
        IntOption("score_limit", "points (tricks) of a side that end the match after the round", lo=1, hi=1000,
                  default=8),
        FloatOption("time_limit_s", "seconds after which the match ends", lo=10.0, hi=3600.0, default=900.0),
    )
    result_shape: ClassVar[ResultShape] = ResultShape(reasons=("rounds", "score", "time"), score="tricks won")
    seat_range: ClassVar[tuple[int, int]] = (2, MAX_PLAYERS)
    team_range: ClassVar[tuple[int, int]] = (0, 2)
    tick_hz_range: ClassVar[tuple[int, int]] = (2, 20)
    per_seat_views: ClassVar[bool] = True
    MAP: ClassVar[Mapping[str, Any]] = {
        "name": "cards",
        "deck": DECK,
        "suits": list(SUIT_NAMES),
        "ranks": list(RANK_NAMES),
        "max_players": MAX_PLAYERS,
    }

    def __init__(self, config: ModeConfig) -> None:
        super().__init__(config)
        if not 1 <= config.seats <= MAX_PLAYERS:
            raise ValueError(f"a cards table seats 1 to {MAX_PLAYERS} players")  # the declaration says 2..4
        config = self.config  # the options, defaults filled in
        hz = config.tick_hz
        self.turn_time_s = config.float_option("turn_time_s")
        self.pause_s = config.float_option("pause_s")
        self.rules = Rules(hand_size=config.int_option("hand_size"), rounds=config.int_option("rounds"),
                           turn_ticks=max(1, round(self.turn_time_s * hz)), pause_ticks=max(1, round(self.pause_s * hz)),
                           score_limit=config.int_option("score_limit"), teams=2 if config.teams >= 2 else 0)
        self.game = Game(self.rules, config.seats, config.rng())
        self.time_limit_ticks = max(1, round(config.float_option("time_limit_s") * hz))
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

    def leave(self, seat: int) -> None:
        self.game.leave(seat)

    # --- stepping -----------------------------------------------------------------------

    def step(self, inputs: Mapping[int, Move]) -> StepOutcome:
        # A move is never repeated by the engine (a seat that sent nothing new has card -1).
        moves = {seat: inp.card for seat, inp in inputs.items() if inp.card >= 0}
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

    def results(self) -> list[ResultRow]:
        g = self.game
        return [
            ResultRow(seat=seat, score=g.score[seat], team=g.team[seat],
                      time_played_s=round(g.played_ticks[seat] / self.config.tick_hz, 3))
            for seat in range(g.seats) if g.present[seat] or g.played_ticks[seat] > 0
        ]

    def map_info(self) -> dict[str, Any]:
        return {**self.MAP, **self.config.options, "spectator_delay_s": self.spectator_delay_s()}
