"""The pure rules of payments, without sockets or databases: events, states, debits, debts, the audit."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from commerce import catalog, ledger
from commerce.payments import auditing, rules, signing
from commerce.payments.provider import ChargeRefunded, CheckoutCompleted, DisputeCreated, OtherEvent, WebhookRefused
from tests.commerce.paying import signature

SECRET = "whsec_rules"


def _completed(**obj: Any) -> dict[str, Any]:
    base = {"id": "cs_1", "amount_total": 199, "currency": "eur", "client_reference_id": "p1",
            "metadata": {"pack": "premium-100"}, "payment_intent": "pi_1", "payment_status": "paid"}
    return {"id": "evt_1", "type": "checkout.session.completed", "data": {"object": {**base, **obj}}}


def test_events_are_read_into_their_types() -> None:
    assert rules.parse_event(_completed()) == CheckoutCompleted("evt_1", "cs_1", "pi_1", "p1", "premium-100", 199,
                                                                "EUR", True)
    assert not rules.parse_event(_completed(payment_status="unpaid")).paid  # type: ignore[union-attr]
    refund = {"id": "evt_2", "type": "charge.refunded", "data": {"object": {
        "id": "ch_1", "payment_intent": "pi_1", "amount": 199, "amount_refunded": 99, "currency": "eur"}}}
    assert rules.parse_event(refund) == ChargeRefunded("evt_2", "ch_1", "pi_1", 199, 99, "EUR")
    dispute = {"id": "evt_3", "type": "charge.dispute.created", "data": {"object": {
        "id": "dp_1", "payment_intent": "pi_1", "amount": 199, "currency": "eur"}}}
    assert rules.parse_event(dispute) == DisputeCreated("evt_3", "dp_1", "pi_1", 199, "EUR")
    assert rules.parse_event({"id": "evt_4", "type": "invoice.paid"}) == OtherEvent("evt_4", "invoice.paid")


@pytest.mark.parametrize("raw", [
    [], {"type": "charge.refunded"}, {"id": "", "type": "x"}, {"id": "e", "type": "charge.refunded", "data": []},
    _completed(amount_total="199"), _completed(amount_total=True), _completed(amount_total=-1),
    _completed(metadata=None), _completed(client_reference_id=None), _completed(metadata={"pack": 3}),
])
def test_an_event_missing_what_is_needed_is_malformed(raw: Any) -> None:
    with pytest.raises(rules.Malformed):
        rules.parse_event(raw)


def test_the_webhook_check_is_stripes_scheme() -> None:
    body = json.dumps(_completed()).encode()
    assert isinstance(signing.verify(body, {"Stripe-Signature": signature(body, SECRET)}, SECRET, 300),
                      CheckoutCompleted)
    header = signing.sign(body.decode(), SECRET)
    assert isinstance(signing.verify(body, {"Stripe-Signature": header}, SECRET, 300), CheckoutCompleted)
    for headers, code in [({}, "webhook-signature"), ({"Stripe-Signature": "garbage"}, "webhook-signature"),
                          ({"Stripe-Signature": signature(body, "whsec_other")}, "webhook-signature"),
                          ({"Stripe-Signature": signature(body, SECRET, int(time.time()) - 301)}, "webhook-signature")]:
        with pytest.raises(WebhookRefused) as err:
            signing.verify(body, headers, SECRET, 300)
        assert err.value.code == code
    with pytest.raises(WebhookRefused) as err:
        signing.verify(b"\xff\xfe", {"Stripe-Signature": "t=1,v1=00"}, SECRET, 300)
    assert err.value.code == "webhook-malformed"


def test_the_state_table() -> None:
    assert rules.next_state("pending", "paid") == "paid"
    assert rules.next_state("paid", "paid") is None  # a second completion changes nothing
    assert rules.next_state("pending", "full_refund") is None
    assert rules.next_state("paid", "dispute") == "disputed"
    assert rules.next_state("disputed", "full_refund") is None
    assert rules.next_state("refunded", "dispute") is None
    assert {to for to in rules.TRANSITIONS.values()} | {"pending"} == set(rules.STATES)


def test_debits_take_what_is_there_and_debts_are_paid_oldest_first() -> None:
    assert rules.take(230, 550) == (230, 320)
    assert rules.take(600, 550) == (550, 0)
    assert rules.take(0, 10) == (0, 10)
    assert rules.settle(100, [("a", 320)]) == [("a", 100)]
    assert rules.settle(500, [("a", 320), ("b", 50), ("c", 400)]) == [("a", 320), ("b", 50), ("c", 130)]
    assert rules.settle(0, [("a", 1)]) == []
    assert rules.refund_target(1200, 1999, 500) == 301  # rounded up
    assert rules.refund_target(100, 199, 199) == 100
    assert rules.refund_target(100, 199, 1) == 1


def _rows(premium: int = 100, state: str = "paid", refunded: int = 0) -> tuple[list[Any], list[Any], list[Any]]:
    pid = "cs_1"
    payments = [{"_id": pid, "account": "p1", "premium": premium, "state": state, "refunded_premium": refunded,
                 "chargeback_premium": 0}]
    entries: list[dict[str, Any]] = [{"_id": ledger.entry_id("payment", pid, "credit"), "kind": "payment",
                                      "payment": pid, "account": "p1", "currency": "premium", "delta": premium}]
    debts: list[dict[str, Any]] = []
    if refunded:
        rid = ledger.entry_id("refund", pid, str(refunded))
        entries.append({"_id": rid, "kind": "refund", "payment": pid, "delta": -60, "requested": refunded,
                        "owed": refunded - 60})
        entries.append({"_id": "debt:x", "kind": "debt", "debt": rid, "delta": -10})
        debts.append({"_id": rid, "amount": refunded - 60, "paid": 10, "remaining": refunded - 70})
    return payments, entries, debts


def test_the_payment_audit_passes_honest_rows_and_names_each_fault() -> None:
    assert auditing.check_payments(*_rows()) == []
    assert auditing.check_payments(*_rows(refunded=100, state="refunded")) == []
    payments, entries, debts = _rows()
    entries.append(dict(entries[0]))
    assert [p.code for p in auditing.check_payments(payments, entries, debts)] == ["payment_credit"]
    payments, entries, debts = _rows(state="pending")
    assert [p.code for p in auditing.check_payments(payments, entries, debts)] == ["payment_credit"]
    payments, entries, debts = _rows(refunded=100, state="refunded")
    debts[0]["remaining"] = 40
    assert [p.code for p in auditing.check_payments(payments, entries, debts)] == ["debt_remaining"]
    payments, entries, debts = _rows(refunded=100, state="refunded")
    assert [p.code for p in auditing.check_payments(payments, entries, [])] == ["debt_missing", "debt_orphan_entry"]
    payments, entries, debts = _rows(refunded=100, state="refunded")
    payments[0]["refunded_premium"] = 50
    assert [p.code for p in auditing.check_payments(payments, entries, debts)] == ["payment_refund"]
    assert [p.code for p in auditing.check_payments([], entries[:1], [])] == ["payment_orphan_entry"]


def test_packs_in_the_catalog_file_are_checked_with_named_errors() -> None:
    good = {"id": "gems", "name": "Gems", "price": 199, "currency": "EUR", "premium": 100}
    parsed = catalog.parse_file({"version": 1, "items": [], "packs": [good]})
    assert parsed.packs == (catalog.Pack("gems", "Gems", 199, "EUR", 100),)
    with pytest.raises(catalog.CatalogError) as err:
        catalog.parse_file({"version": 1, "items": [], "packs": [
            good, good, {**good, "id": "b", "price": 0}, {**good, "id": "c", "currency": "euro"},
            {**good, "id": "d", "premium": 1.5}, {**good, "id": "e", "extra": 1}]})
    assert set(err.value.errors) == {"packs[1].id", "packs[2].price", "packs[3].currency", "packs[4].premium",
                                     "packs[5].extra"}
    with pytest.raises(catalog.CatalogError) as err:
        catalog.parse_file({"version": 1, "items": [], "packs": {}})
    assert set(err.value.errors) == {"packs"}


def test_the_local_stack_runs_the_sandbox_unless_a_provider_is_chosen(tmp_path: Any) -> None:
    from commerce.cli import STACK_SERVICES
    from elysium.up import StackContext, StackService

    [svc] = [s for s in STACK_SERVICES if isinstance(s, StackService) and s.name == "commerce"]
    assert svc.env is not None
    assert svc.env(StackContext(tmp_path, {}))["ELYSIUM_PAYMENTS_PROVIDER"] == "sandbox"
    chosen = StackContext(tmp_path, {"ELYSIUM_PAYMENTS_PROVIDER": "stripe"})
    assert svc.env(chosen)["ELYSIUM_PAYMENTS_PROVIDER"] == "stripe"
