"""The custody rules without sockets: the documented table, the audit's chain check, token ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from commerce.audit import TokenHolding, check_chain
from commerce.chain import tokens
from commerce.chain.custody_rules import TRANSITIONS, table

DOCS = Path(__file__).resolve().parents[3] / "docs" / "chain.md"


def test_docs_show_the_state_machine_as_the_code_has_it() -> None:
    assert table() in DOCS.read_text()
    assert {t.after for t in TRANSITIONS} >= {"withdrawing", "on_chain", "in_game", "held"}


def _on_chain(n: int, token: str = "7") -> list[dict[str, object]]:
    return [{"_id": f"i{k}", "custody": "on_chain", "chain": {"token_id": token}} for k in range(n)]


def test_players_holding_what_is_recorded_on_chain_passes() -> None:
    assert check_chain(_on_chain(2), {}, {"7": TokenHolding(supply=5, custody=3)}) == []


def test_more_held_than_recorded_is_both_and_fewer_is_neither() -> None:
    assert [p.code for p in check_chain(_on_chain(1), {}, {"7": TokenHolding(3, 1)})] == ["item_both"]
    assert [p.code for p in check_chain(_on_chain(3), {}, {"7": TokenHolding(3, 1)})] == ["item_neither"]


def test_withdrawals_and_deposits_in_flight_are_tolerated_and_no_more() -> None:
    leaving = [{"_id": "w", "custody": "withdrawing"}]
    assert check_chain(_on_chain(1) + leaving, {"w": "7"}, {"7": TokenHolding(2, 0)}) == []
    assert check_chain(_on_chain(1) + leaving, {"w": "7"}, {"7": TokenHolding(3, 0)})[0].code == "item_both"
    assert check_chain(_on_chain(2), {}, {"7": TokenHolding(2, 1, unread_deposits=1)}) == []
    assert check_chain(_on_chain(3), {}, {"7": TokenHolding(2, 1, unread_deposits=1)})[0].code == "item_neither"


def test_a_token_the_chain_was_not_read_for_is_a_problem() -> None:
    assert check_chain(_on_chain(1), {}, {})[0].code == "chain_unread"


def test_token_ids_map_back_and_keep_their_ranges() -> None:
    item = "0123456789abcdef0123456789abcdef"
    assert tokens.unique_item_of(tokens.unique_token(item)) == item
    assert tokens.is_unique(tokens.unique_token(item)) and not tokens.is_unique(tokens.type_token("health-potion"))
    assert tokens.type_token("health-potion") < 2**128
    assert tokens.item_type_of(tokens.type_token("b"), ["a", "b"]) == "b"
    for bad in ("", "xyz", "0" * 31):
        with pytest.raises(tokens.TokenIdError):
            tokens.unique_token(bad) if bad else tokens.type_token(bad)
