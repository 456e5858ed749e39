"""The pure cores, driven without sockets or databases."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from commerce import audit, catalog, ledger, pricing, rules
from commerce.validation import (MAX_DOCUMENT_DEPTH, Field, Invalid, check, document_problem, name_problem,
                                 password_problem)
from elysium.results import MatchResult, PlayerRow

def test_apply_refuses_negative_and_overflowing_balances() -> None:
    acct = ledger.AccountId("a")
    assert ledger.apply(100, ledger.Change(acct, "soft", -100)) == 0
    with pytest.raises(ledger.InsufficientFunds):
        ledger.apply(99, ledger.Change(acct, "soft", -100))
    with pytest.raises(ledger.BalanceLimit):
        ledger.apply(ledger.MAX_BALANCE, ledger.Change(acct, "soft", 1))


@pytest.mark.parametrize("bad", [0, -1, ledger.MAX_AMOUNT + 1, True, 1.5, "10", None, 2**70])
def test_amounts_must_be_bounded_whole_numbers(bad: object) -> None:
    with pytest.raises(ledger.MoneyError):
        ledger.check_amount(bad)


def test_entry_ids_are_stable_and_scoped() -> None:
    a = ledger.entry_id("purchase", "acct-1", "key")
    assert a == ledger.entry_id("purchase", "acct-1", "key")
    assert a != ledger.entry_id("purchase", "acct-2", "key")
    assert a != ledger.entry_id("grant", "acct-1", "key")
    assert ledger.fingerprint({"a": 1, "b": 2}) == ledger.fingerprint({"b": 2, "a": 1})


def _item(**kw: object) -> catalog.ItemType:
    base: dict[str, object] = dict(id="x", name="X", rarity="common", stackable=True, tradeable=True,
                                   price={"soft": 7})
    base.update(kw)
    return catalog.parse_item(base)


def test_quote_prices_and_refuses() -> None:
    q = pricing.quote(_item(), "soft", 3)
    assert (q.unit_price, q.total, q.quantity) == (7, 21, 3)
    with pytest.raises(pricing.PricingError) as exc:
        pricing.quote(_item(), "premium", 1)
    assert exc.value.code == "not_for_sale"
    with pytest.raises(pricing.PricingError) as exc:
        pricing.quote(_item(stackable=False), "soft", 2)
    assert exc.value.code == "bad_quantity"
    with pytest.raises(pricing.PricingError):
        pricing.quote(_item(), "gold", 1)
    assert pricing.fits_supply(10, 9, 1) and not pricing.fits_supply(10, 9, 2) and pricing.fits_supply(None, 9, 99)


@pytest.mark.parametrize("field,value", [("price", {"soft": -1}), ("price", {"soft": 1.5}), ("price", {"gold": 1}),
                                          ("supply_cap", 0), ("rarity", "mythic"), ("id", "Bad Id"),
                                          ("stackable", "yes"), ("color", "red")])
def test_item_types_are_validated(field: str, value: object) -> None:
    raw = _item().to_doc()
    raw[field] = value
    with pytest.raises(catalog.CatalogError) as exc:
        catalog.parse_item(raw)
    assert field in exc.value.errors


def test_the_shipped_catalog_file_is_valid() -> None:
    cf = catalog.parse_file(json.loads((Path(catalog.__file__).with_name("catalog.json")).read_text()))
    assert cf.version >= 1 and len({i.id for i in cf.items}) == len(cf.items)
    assert "arena" in cf.rewards


def test_catalog_file_errors_are_named_with_their_place() -> None:
    raw = {"version": 0, "items": [{"id": "a"}, _item().to_doc(), _item().to_doc()],
           "rewards": {"arena": {"currency": "soft"}}}
    with pytest.raises(catalog.CatalogError) as exc:
        catalog.parse_file(raw)
    keys = set(exc.value.errors)
    assert "version" in keys and "items[0].name" in keys and "items[2].id" in keys
    assert any(k.startswith("rewards.arena.") for k in keys)


RULES = rules.parse_rules({"currency": "soft", "participation": 10, "per_kill": 3, "per_score": 2, "win_bonus": 25,
                           "max_per_player": 60, "min_time_played_s": 5,
                           "drops": [{"item": "crate", "chance_ppm": 500_000}]})


def _result(players: list[dict[str, str | int | float]], match_id: str = "m1", teams: int = 0) -> MatchResult:
    rows = [PlayerRow(player_id=str(p["player_id"]), seat=i, name=str(p["player_id"]), team=int(p.get("team", 0)),
                      score=int(p.get("score", 0)), time_played_s=float(p.get("time_played_s", 60)),
                      stats={"kills": int(p.get("kills", 0)), "deaths": int(p.get("deaths", 0))})
            for i, p in enumerate(players)]
    return MatchResult.create(match_id=match_id, mode="arena", seed=1, server_id="gs", reason="score", ticks=1,
                              duration_s=1.0, started_at_us=0, ended_at_us=1, teams=teams, players=rows)


def test_rewards_follow_the_rules_and_are_deterministic() -> None:
    result = _result([
        {"player_id": "a", "team": 0, "score": 5, "kills": 5, "deaths": 0, "time_played_s": 60},
        {"player_id": "b", "team": 0, "score": 1, "kills": 1, "deaths": 5, "time_played_s": 60},
        {"player_id": "afk", "team": 0, "score": 0, "kills": 0, "deaths": 0, "time_played_s": 1},
    ])
    got = {r.player_id: r for r in rules.rewards_for(result, RULES)}
    assert set(got) == {"a", "b"}  # too short a stay earns nothing
    assert got["a"].amount == 60  # 10 + 15 + 10 + 25 = 60, at the cap
    assert got["b"].amount == 10 + 3 + 2
    assert rules.rewards_for(result, RULES) == rules.rewards_for(result, RULES)
    # Over many matches about half the players get the 50 % drop.
    drops = sum(bool(r.items) for i in range(400) for r in rules.rewards_for(
        _result([{"player_id": "a", "score": 0, "kills": 0, "time_played_s": 60}], f"m{i}"), RULES))
    assert 150 < drops < 250


def test_the_win_bonus_follows_the_kernels_standings() -> None:
    def bonus(result: MatchResult) -> set[str]:
        return {r.player_id for r in rules.rewards_for(result, RULES) if r.amount >= RULES.win_bonus + 10}

    assert bonus(_result([{"player_id": "a", "score": 2}, {"player_id": "b", "score": 2}])) == set()  # a tie
    teams = _result([{"player_id": "a", "team": 0, "score": 3}, {"player_id": "b", "team": 0, "score": 0},
                     {"player_id": "c", "team": 1, "score": 2}], teams=2)
    assert bonus(teams) == {"a", "b"} == teams.winners()
    # A team match with one team left is still a team match: the whole team wins.
    alone = _result([{"player_id": "a", "team": 1, "score": 3}, {"player_id": "b", "team": 1, "score": 0}], teams=2)
    assert bonus(alone) == {"a", "b"}
    # A match cut short by its server's drain decided nothing: the same standings, no bonus.
    drained = dataclasses.replace(teams, reason="shutdown")
    assert drained.winners() == {"a", "b"} and bonus(drained) == set()
    assert ({r.player_id: r.amount for r in rules.rewards_for(drained, RULES)}
            == {"a": 10 + 6, "b": 10, "c": 10 + 4})
    # A room its mode's own error ended decided nothing either.
    broken = dataclasses.replace(teams, reason="error")
    assert bonus(broken) == set() and {r.player_id for r in rules.rewards_for(broken, RULES)} == {"a", "b", "c"}


def test_validation_lists_every_problem() -> None:
    schema = {"n": Field(int, min=1, max=5), "s": Field(str, max=3)}
    assert check({"n": 2, "s": "ab"}, schema) == {"n": 2, "s": "ab"}
    with pytest.raises(Invalid) as exc:
        check({"n": True, "s": "abcd", "z": 1}, schema)
    assert set(exc.value.errors) == {"n", "s", "z"}
    with pytest.raises(Invalid):
        check([1], schema)
    with pytest.raises(Invalid):
        check({}, schema, partial=True)


def test_text_rules_for_names_passwords_and_stored_documents() -> None:
    names = {"name": Field(str, min=1, max=5, nfc=True, extra=name_problem)}
    assert check({"name": "Ame\u0301"}, names) == {"name": "Am\u00e9"}  # normalised, then counted
    for bad in ("a\u202eb", "a\u2069", "a\u00adb", "\x00", "a\nb", "<b>", "   ", "a\ud800"):
        with pytest.raises(Invalid):
            check({"name": bad}, names)
    assert name_problem("Zoë 🎮") is None
    assert password_problem("\x00" * 8) and password_problem("tab\tpass") and password_problem(" " * 8)
    assert password_problem("pässwörd with spaces") is None
    assert document_problem({"a": {"b": [1, {"c": 2 ** 63 - 1}]}, "t": "x"}) is None
    bad_documents: list[dict[str, object]] = [
        {"$a": 1}, {"a.b": 1}, {"": 1}, {"a\x00": 1}, {"a": [{"$b": 1}]}, {"n": 2 ** 63}, {"n": -(2 ** 63) - 1},
        {"a\ud800": 1}, {"t": "\udfff"}]
    for document in bad_documents:
        assert document_problem(document, "settings"), document
    assert "settings.a[0]" in str(document_problem({"a": [{"$b": 1}]}, "settings"))
    deep: dict[str, object] = {}
    for _ in range(MAX_DOCUMENT_DEPTH - 1):
        deep = {"n": deep}  # the last of MAX_DOCUMENT_DEPTH levels of objects
    assert document_problem(deep) is None and document_problem({"n": deep})


def test_audit_rules_find_each_kind_of_problem() -> None:
    wallets = [("a", "soft", 10), ("b", "soft", -1), ("c", "soft", 5.0)]
    problems = audit.check_wallets(wallets, {("a", "soft"): 10, ("b", "soft"): -1, ("d", "soft"): 3})
    assert {p.code for p in problems} == {"wallet_negative", "wallet_not_integer", "ledger_without_wallet"}
    assert audit.check_wallets([("a", "soft", 10)], {("a", "soft"): 9})[0].code == "wallet_ledger_mismatch"
    items = [{"_id": 1, "owner": "a", "custody": "in_game"}, {"_id": 2, "owner": ["a", "b"], "custody": "listed"},
             {"_id": 3, "owner": "zz", "custody": "in_game"},
             {"_id": 4, "owner": "a", "custody": ["in_game", "on_chain"]}]
    found = audit.check_items(items, {"a"})
    assert [p.subject for p in found] == ["item 2", "item 3", "item 4"]
    assert audit.check_supply({"x": 2}, {"x": 3}, {"x": (3, -1)})[0].code == "supply_exceeded"
    assert audit.check_supply({"x": 5}, {"x": 3}, {"x": (2, 3)})[0].code == "supply_counter"
    assert audit.check_supply({"x": 5, "y": None}, {"x": 3, "y": 9}, {"x": (3, 2)}) == []


def test_the_audit_finds_money_made_or_lost_by_a_transfer() -> None:
    sources, transfers = frozenset({"grant"}), frozenset({"sale"})
    balanced = [{"_id": "1", "kind": "grant", "currency": "soft", "delta": 50},
                {"_id": "2", "kind": "sale", "transfer": "t1", "currency": "soft", "delta": -10},
                {"_id": "3", "kind": "sale", "transfer": "t1", "currency": "soft", "delta": 9},
                {"_id": "4", "kind": "sale", "transfer": "t1", "currency": "soft", "delta": 1}]
    assert audit.check_conservation(balanced, sources, transfers) == []
    broken = balanced[:3] + [{"_id": "5", "kind": "sale", "currency": "soft", "delta": 1},
                             {"_id": "6", "kind": "gift", "transfer": "t2", "currency": "soft", "delta": 5}]
    found = audit.check_conservation(broken, sources, transfers)
    assert [(p.code, p.subject) for p in found] == [
        ("transfer_id", "ledger entry 5"), ("ledger_kind", "ledger entry 6"), ("transfer_unbalanced", "transfer t1/soft")]
    assert ledger.SOURCE_KINDS >= {"purchase", "reward", "grant", "signup"}
    assert not ledger.SOURCE_KINDS & ledger.TRANSFER_KINDS
