"""Cards' pure rules: deals, following suit, trumps, timeouts, refusals, scoring, the end."""

from __future__ import annotations

import numpy as np
import pytest

from gameserver.modes import cards_rules as r
from gameserver.modes.cards_rules import Game, Phase, Rules


def game(players: int = 3, seed: int = 7, **rules: int) -> Game:
    g = Game(Rules(**{"hand_size": 4, "rounds": 2, "turn_ticks": 5, "pause_ticks": 2, **rules}), players,
             np.random.default_rng(seed))
    for seat in range(players):
        g.join(seat, seat % 2)
    return g


def c(rank: str, suit: str) -> int:
    return r.SUIT_NAMES.index(suit) * r.RANKS + r.RANK_NAMES.index(rank)


def test_a_deal_gives_every_player_distinct_cards_and_turns_up_a_trump() -> None:
    g = game(players=4, hand_size=7)
    out = g.step({})
    deal = out.events[0]
    assert deal["k"] == "deal" and deal["players"] == [0, 1, 2, 3] and deal["trump"] == g.trump_card
    cards = [card for hand in g.hands.values() for card in hand] + [g.trump_card] + g.stock
    assert sorted(cards) == list(range(r.DECK))
    assert all(len(h) == 7 for h in g.hands.values())
    assert g.turn == g._after(g.dealer) and g.phase is Phase.PLAY


def test_same_seed_same_match_and_another_seed_another_deal() -> None:
    def run(seed: int) -> list[object]:
        g = game(seed=seed)
        log: list[object] = []
        while g.phase is not Phase.OVER:
            out = g.step({})
            log.extend(out.events)
        return log

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_a_player_must_follow_suit_and_is_told_so_alone() -> None:
    g = game(players=2)
    g.step({})
    g.hands = {0: sorted([c("7", "clubs"), c("A", "hearts")]), 1: sorted([c("9", "clubs"), c("K", "spades")])}
    g.objects = {}
    for seat, hand in g.hands.items():
        for i, card in enumerate(hand):
            g._place(r.HAND, seat, card, i)
    g.trump_card = c("8", "diamonds")
    g.turn, g.deadline, g.players = 0, g.tick + 5, [0, 1]
    g.step({0: c("7", "clubs")})
    assert g.turn == 1
    out = g.step({1: c("K", "spades")})  # holds a club
    assert out.private == {1: [{"k": "refused", "who": 1, "card": c("K", "spades"), "why": r.MUST_FOLLOW}]}
    assert not any(e["k"] == "refused" for e in out.events) and g.turn == 1 and len(g.trick) == 1
    out = g.step({1: c("A", "hearts")})
    assert out.private[1][0]["why"] == r.NOT_IN_HAND
    out = g.step({0: c("A", "hearts")})
    assert out.private[0][0]["why"] == r.NOT_YOUR_TURN
    out = g.step({1: c("9", "clubs")})
    assert out.events[-1] == {"k": "trick", "who": 1, "cards": [c("7", "clubs"), c("9", "clubs")]}
    assert g.score == [0, 1]


def test_the_highest_trump_wins_else_the_highest_of_the_led_suit() -> None:
    g = game(players=3)
    g.step({})
    g.trump_card = c("7", "spades")
    g.trick = [(0, c("A", "hearts")), (1, c("8", "spades")), (2, c("K", "spades"))]
    assert g._winner() == 2
    g.trick = [(0, c("9", "hearts")), (1, c("A", "clubs")), (2, c("J", "hearts"))]
    assert g._winner() == 2  # an ace of another suit does not win


def test_a_timed_out_turn_plays_the_lowest_legal_card() -> None:
    g = game(players=2, turn_ticks=3)
    g.step({})
    seat = g.turn
    lowest = g.default_move(seat)
    assert lowest == min(g.hands[seat], key=lambda x: (r.rank_of(x), r.suit_of(x)))
    g.step({})
    g.step({})
    assert g.turn == seat  # two steps: still waiting
    out = g.step({})
    assert {"k": "timeout", "who": seat} in out.events and {"k": "play", "who": seat, "card": lowest} in out.events


def test_a_player_who_left_has_the_default_move_played_at_once() -> None:
    g = game(players=3)
    g.step({})
    seat = g.turn
    g.leave(seat)
    out = g.step({})
    assert {"k": "timeout", "who": seat} in out.events


def test_rounds_score_one_point_per_trick_and_the_match_ends_after_the_last() -> None:
    g = game(players=3, hand_size=4, rounds=2)
    reasons, rounds = [], 0
    while g.phase is not Phase.OVER:
        out = g.step({})
        rounds += sum(e["k"] == "round" for e in out.events)
        if out.finished:
            reasons.append(out.finished)
    assert reasons == ["rounds"] and rounds == 2
    assert sum(g.score) == 2 * 4
    assert not g.objects  # the table is cleared


def test_the_score_limit_ends_the_match_after_the_round_that_reaches_it() -> None:
    g = game(players=2, hand_size=5, rounds=50, score_limit=3)
    finished = None
    while finished is None:
        finished = g.step({}).finished
    assert finished == "score" and max(g.score) >= 3 and g.round_no < 50


def test_a_round_never_outlasts_its_bound() -> None:
    rules = Rules(hand_size=3, rounds=1, turn_ticks=4, pause_ticks=2)
    g = Game(rules, 4, np.random.default_rng(1))
    for seat in range(4):
        g.join(seat, 0)
    steps = 0
    while g.phase is not Phase.OVER:
        g.step({})
        steps += 1
    assert steps <= rules.round_ticks(4) + 1


def test_rules_refuse_settings_out_of_bounds() -> None:
    with pytest.raises(ValueError):
        Rules(hand_size=8)
    with pytest.raises(ValueError):
        Rules(turn_ticks=0)


def test_hidden_cards_are_seen_by_their_holder_only() -> None:
    g = game(players=3)
    g.step({})
    for seat in range(3):
        seen = g.visible(seat)
        assert {o.card for o in seen if o.kind == r.HAND} == set(g.hands[seat])
        assert all(o.kind != r.STOCK for o in seen)
    assert len(g.visible(None)) == r.DECK


def test_the_bot_follows_suit_wins_cheaply_and_leads_high() -> None:
    from gameserver.bots import pick_card

    def obj(kind: int, owner: int, card: int, order: int = 0) -> list[int]:
        return [0, kind, owner, card, order]

    hand = [obj(r.HAND, 0, c("7", "hearts")), obj(r.HAND, 0, c("Q", "hearts")), obj(r.HAND, 0, c("A", "clubs")),
            obj(r.HAND, 1, c("A", "hearts"))]  # seat 1's card: never chosen for seat 0
    trump = [obj(r.TRUMP, -1, c("8", "spades"))]
    assert pick_card(0, hand + trump) == c("A", "clubs")  # lead the highest
    table = [obj(r.TABLE, 2, c("10", "hearts"), 0)]
    assert pick_card(0, hand + trump + table) == c("Q", "hearts")  # follow and win cheaply
    table = [obj(r.TABLE, 2, c("10", "hearts"), 0), obj(r.TABLE, 3, c("7", "spades"), 1)]
    assert pick_card(0, hand + trump + table) == c("7", "hearts")  # trumped: follow low
    assert pick_card(5, hand + trump) is None
