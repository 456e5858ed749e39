"""Payments through the sandbox provider, end to end over HTTP against real MongoDB and Redis.

The sandbox signs its events in Stripe's scheme and delivers them through the webhook's code
path; the tests sign events by hand with the same secret to drive refunds, disputes and abuse.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from commerce.settings import CommerceSettings
from tests.commerce.conftest import admin_headers, make_settings, register
from tests.commerce.paying import (WEBHOOK_SECRET, assert_audit_passes, completed, deliver, disputed, post_event,
                                   premium_totals, refunded, signed)


@pytest.fixture
def pay_settings(mongo_url: str, mongo_db_name: str, redis_url: str, keys_dir: Any) -> CommerceSettings:
    return make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, payments_provider="sandbox",
                         payments_sandbox_secret=WEBHOOK_SECRET)


@pytest.fixture
async def pay(client_for: Any, pay_settings: CommerceSettings) -> Any:
    return await client_for(pay_settings)


@pytest.fixture
async def db(mongo_url: str, mongo_db_name: str) -> Any:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    yield client[mongo_db_name]
    await client.close()


async def checkout(client: Any, who: dict[str, Any], pack: str = "premium-100", key: str | None = None) -> Any:
    resp = await client.post("/v1/payments/checkout", json={"pack_id": pack},
                             headers={**who["headers"], "Idempotency-Key": key or uuid.uuid4().hex})
    assert resp.status in (200, 201), await resp.text()
    return await resp.json()


async def premium(client: Any, who: dict[str, Any]) -> int:
    resp = await client.get("/v1/me/wallet", headers=who["headers"])
    return int((await resp.json())["balances"]["premium"])


async def sandbox_pay(client: Any, payment: dict[str, Any]) -> dict[str, Any]:
    path = payment["checkout_url"].split("//", 1)[1].split("/", 1)[1]
    resp = await client.post("/" + path)
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def test_packs_come_from_the_catalog_file(pay: Any, client: Any) -> None:
    resp = await pay.get("/v1/packs")
    body = await resp.json()
    assert resp.status == 200 and body["provider"] == "sandbox"
    assert {p["id"]: (p["price"], p["currency"], p["premium"]) for p in body["packs"]}["premium-100"] == (199, "EUR",
                                                                                                          100)
    off = await client.get("/v1/packs")  # the default settings: payments off, the packs still listed
    assert (await off.json())["provider"] == "off"
    who = await register(client)
    resp = await client.post("/v1/payments/checkout", json={"pack_id": "premium-100"},
                             headers={**who["headers"], "Idempotency-Key": "k1"})
    assert resp.status == 404 and (await resp.json())["code"] == "payments-disabled"


async def test_the_whole_sandbox_flow_over_http(pay: Any, db: Any, mongo_url: str, mongo_db_name: str) -> None:
    who = await register(pay)
    first = await checkout(pay, who, "premium-550", key="buy-1")
    assert first["state"] == "pending" and first["premium"] == 550 and first["price"] == 999
    assert first["checkout_url"].startswith(f"http://{pay.server.host}:{pay.server.port}/v1/payments/sandbox/cs_")
    again = await pay.post("/v1/payments/checkout", json={"pack_id": "premium-550"},
                           headers={**who["headers"], "Idempotency-Key": "buy-1"})
    assert again.status == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert (await again.json())["payment_id"] == first["payment_id"]
    path = "/" + first["checkout_url"].split("//", 1)[1].split("/", 1)[1]
    page = await pay.get(path)
    assert page.status == 200 and page.content_type == "text/html" and "Pay</button>" in await page.text()
    assert await premium(pay, who) == 0
    paid = await sandbox_pay(pay, first)
    assert paid["outcome"] == "credited" and paid["state"] == "paid"
    assert await premium(pay, who) == 550
    twice = await sandbox_pay(pay, first)  # the button pressed again: the same event, nothing more
    assert twice["outcome"] == "duplicate" and await premium(pay, who) == 550
    listed = await (await pay.get("/v1/me/payments", headers=who["headers"])).json()
    assert [(p["payment_id"], p["state"]) for p in listed["payments"]] == [(first["payment_id"], "paid")]
    ledger = await (await pay.get("/v1/me/ledger", headers=who["headers"])).json()
    assert [e["kind"] for e in ledger["entries"] if e["currency"] == "premium"] == ["payment"]
    # The premium is spendable like any other.
    resp = await pay.post("/v1/purchases", json={"item_id": "arena-banner", "currency": "premium"},
                          headers={**who["headers"], "Idempotency-Key": "banner"})
    assert resp.status == 201 and await premium(pay, who) == 430
    assert_audit_passes(mongo_url, mongo_db_name)


async def test_checkout_refuses_bad_input_and_records_nothing(pay: Any, db: Any) -> None:
    who = await register(pay)
    h = {**who["headers"], "Idempotency-Key": "k"}
    cases = [({"pack_id": "premium-9999"}, h, 404, "pack-not-found"),
             ({"pack_id": "premium-100", "premium": 5}, h, 400, "invalid-request"),
             ({"pack_id": 100}, h, 400, "invalid-request"),
             ({}, h, 400, "invalid-request"),
             ({"pack_id": "premium-100"}, who["headers"], 400, "idempotency-key-missing"),
             ({"pack_id": "premium-100"}, {"Idempotency-Key": "k"}, 401, "unauthorized")]
    for body, headers, status, code in cases:
        resp = await pay.post("/v1/payments/checkout", json=body, headers=headers)
        assert (resp.status, (await resp.json())["code"]) == (status, code), body
    big = await pay.post("/v1/payments/checkout", data=b'{"pack_id":"' + b"a" * 20_000 + b'"}',
                         headers={**h, "Content-Type": "application/json"})
    assert big.status == 413
    assert await db["payments"].count_documents({}) == 0
    await checkout(pay, who, "premium-100", key="same")
    other = await pay.post("/v1/payments/checkout", json={"pack_id": "premium-550"},
                           headers={**who["headers"], "Idempotency-Key": "same"})
    assert other.status == 422 and (await other.json())["code"] == "idempotency-key-reused"
    assert await db["payments"].count_documents({}) == 1
    missing = await pay.get("/v1/payments/sandbox/cs_sandbox_nothere")
    assert missing.status == 404 and (await missing.json())["code"] == "payment-not-found"


async def test_forged_stale_malformed_and_foreign_webhooks_change_nothing(pay: Any, db: Any, mongo_url: str,
                                                                        mongo_db_name: str) -> None:
    who = await register(pay)
    payment = await checkout(pay, who)
    event = completed(payment, who["account_id"])

    async def refused(body: bytes, headers: dict[str, str], status: int, code: str) -> None:
        got, answer = await post_event(pay, body, headers)
        assert (got, answer["code"]) == (status, code), answer

    body, headers = signed(event, secret="whsec_forged")
    await refused(body, headers, 400, "webhook-signature")
    body, headers = signed(event)
    await refused(body, {"Content-Type": "application/json"}, 400, "webhook-signature")  # no signature at all
    await refused(body + b" ", headers, 400, "webhook-signature")  # the body changed after signing
    stale_body, stale = signed(event, at=int(time.time()) - 3600)
    await refused(stale_body, stale, 400, "webhook-signature")
    await refused(*signed_raw(b"not json"), 400, "webhook-malformed")
    await refused(*signed_raw(b"[1, 2]"), 400, "webhook-malformed")
    no_object = {**event, "data": {}}
    await refused(*signed(no_object), 400, "webhook-malformed")
    bad_amount = completed(payment, who["account_id"])
    bad_amount["data"]["object"]["amount_total"] = "199"
    await refused(*signed(bad_amount), 400, "webhook-malformed")
    await refused(*signed(completed(payment, who["account_id"], amount=1)), 422, "payment-mismatch")
    await refused(*signed(completed(payment, who["account_id"], pack="premium-550")), 422, "payment-mismatch")
    stranger = completed({**payment, "payment_id": "cs_test_unknown1"}, "no-such-player")
    await refused(*signed(stranger), 404, "unknown-account")
    unknown_pack = completed({**payment, "payment_id": "cs_test_unknown2"}, who["account_id"], pack="premium-9")
    await refused(*signed(unknown_pack), 404, "pack-not-found")
    huge = b'{"id":"evt_1","type":"x","pad":"' + b"a" * 70_000 + b'"}'
    got, answer = await post_event(pay, huge, {"Stripe-Signature": "t=1,v1=00", "Content-Type": "application/json"})
    assert got == 413 and answer["code"] == "body-too-large"
    got, answer = await post_event(pay, body, {**headers, "Content-Type": "text/plain"})
    assert got == 415
    assert await premium(pay, who) == 0
    assert await db["payment_events"].count_documents({}) == 0
    assert await db["payments"].count_documents({"state": "pending"}) == 1
    assert await db["ledger"].count_documents({"kind": "payment"}) == 0
    # An event type this service does not act on: 200, recorded, nothing else.
    other = {"id": "evt_other_1", "object": "event", "type": "customer.created", "data": {"object": {}}}
    got, answer = await post_event(pay, *signed(other))
    assert (got, answer["outcome"]) == (200, "ignored")
    assert (await db["payment_events"].find_one({"_id": "evt_other_1"}))["outcome"] == "ignored"
    # A genuine event credits once; the same event replayed (inside the tolerance) changes nothing.
    good_body, good_headers = signed(event)
    assert (await post_event(pay, good_body, good_headers))[1]["outcome"] == "credited"
    got, answer = await post_event(pay, good_body, good_headers)
    assert (got, answer["outcome"]) == (200, "duplicate")
    redelivered = completed(payment, who["account_id"])  # the same payment under a new event id
    assert (await post_event(pay, *signed(redelivered)))[1]["outcome"] == "duplicate"
    assert await premium(pay, who) == 100
    assert_audit_passes(mongo_url, mongo_db_name)


def signed_raw(body: bytes) -> tuple[bytes, dict[str, str]]:
    from tests.commerce.paying import signature

    return body, {"Stripe-Signature": signature(body), "Content-Type": "application/json"}


async def test_a_webhook_delivered_20_times_concurrently_credits_once(client_for: Any, pay_settings: CommerceSettings,
                                                                     db: Any, mongo_url: str,
                                                                     mongo_db_name: str) -> None:
    # A deadline the storm cannot reach on a busy machine: this checks money under retries (as test_storm).
    pay = storm = await client_for(replace(pay_settings, mongo_timeout_s=60.0))
    players = [await register(pay) for _ in range(3)]
    payments = [await checkout(pay, p, "premium-100") for p in players]
    deliveries = []
    for p, payment in zip(players, payments, strict=True):
        same = signed(completed(payment, p["account_id"]))
        deliveries += [same] * 10  # one event delivered ten times
        deliveries += [signed(completed(payment, p["account_id"])) for _ in range(10)]  # and ten other event ids
    answers = await asyncio.gather(*(deliver(storm, body, headers) for body, headers in deliveries))
    assert all(status == 200 for status, _ in answers), [a for a in answers if a[0] != 200][:3]
    assert sorted(a["outcome"] for _, a in answers).count("credited") == 3
    for p in players:
        assert await premium(pay, p) == 100
    assert await db["ledger"].count_documents({"kind": "payment"}) == 3
    totals = await premium_totals(db)
    assert totals["wallets"] == totals["credited"] == 300
    assert_audit_passes(mongo_url, mongo_db_name)


async def test_refund_after_spending_records_a_debt_that_later_credits_pay(pay: Any, db: Any, admin_token: str,
                                                                          mongo_url: str, mongo_db_name: str) -> None:
    who = await register(pay)
    payment = await checkout(pay, who, "premium-550")
    await sandbox_pay(pay, payment)
    intent = (await db["payments"].find_one({"_id": payment["payment_id"]}))["payment_intent"]
    for item, key in (("arena-banner", "b1"), ("founders-blade", "b2")):  # 120 + 200 premium spent
        resp = await pay.post("/v1/purchases", json={"item_id": item, "currency": "premium"},
                              headers={**who["headers"], "Idempotency-Key": key})
        assert resp.status == 201, await resp.text()
    assert await premium(pay, who) == 230
    refund = refunded(intent, 999, 999)
    status, answer = await post_event(pay, *signed(refund))
    assert (status, answer["outcome"]) == (200, "refunded")
    wallet = await (await pay.get("/v1/me/wallet", headers=who["headers"])).json()
    assert wallet["balances"]["premium"] == 0
    assert [(d["cause"], d["amount"], d["remaining"]) for d in wallet["debts"]] == [("refund", 320, 320)]
    assert (await post_event(pay, *signed(refund)))[1]["outcome"] == "duplicate"  # a redelivery under a new id
    assert_audit_passes(mongo_url, mongo_db_name)
    # The next payment pays the debt first: 100 of 320.
    second = await checkout(pay, who, "premium-100")
    await sandbox_pay(pay, second)
    assert await premium(pay, who) == 0
    # A grant pays the rest (220) and leaves 30.
    resp = await pay.post("/v1/admin/grants", json={"account_id": who["account_id"], "currency": "premium",
                                                    "amount": 250, "reason": "goodwill"},
                          headers=admin_headers(admin_token, "g1"))
    assert resp.status == 201, await resp.text()
    wallet = await (await pay.get("/v1/me/wallet", headers=who["headers"])).json()
    assert wallet["balances"]["premium"] == 30
    assert [(d["amount"], d["paid"], d["remaining"]) for d in wallet["debts"]] == [(320, 320, 0)]
    kinds = [e["kind"] for e in (await (await pay.get("/v1/me/ledger?limit=50", headers=who["headers"])).json())[
        "entries"] if e["currency"] == "premium"]
    assert kinds.count("debt") == 2 and kinds.count("refund") == 1
    listed = await (await pay.get("/v1/me/payments", headers=who["headers"])).json()
    assert {p["payment_id"]: p["state"] for p in listed["payments"]} == {payment["payment_id"]: "refunded",
                                                                        second["payment_id"]: "paid"}
    totals = await premium_totals(db)
    granted = 250
    assert totals["wallets"] == totals["credited"] + granted - totals["spent"] - totals["asked"] + totals["owed"]
    assert_audit_passes(mongo_url, mongo_db_name)


async def test_partial_refund_then_dispute_take_back_at_most_the_credit(pay: Any, db: Any, mongo_url: str,
                                                                       mongo_db_name: str) -> None:
    who = await register(pay)
    payment = await checkout(pay, who, "premium-1200")
    await sandbox_pay(pay, payment)
    intent = (await db["payments"].find_one({"_id": payment["payment_id"]}))["payment_intent"]
    assert (await post_event(pay, *signed(refunded(intent, 1999, 500))))[1]["outcome"] == "refunded"
    assert await premium(pay, who) == 1200 - 301  # 500/1999 of 1200, rounded up
    dispute = disputed(intent, 1499)
    body, headers = signed(dispute)
    answers = await asyncio.gather(*(deliver(pay, body, headers) for _ in range(5)))
    assert sorted(a["outcome"] for _, a in answers) == ["charged_back"] + ["duplicate"] * 4
    assert await premium(pay, who) == 0
    assert (await post_event(pay, *signed(refunded(intent, 1999, 1999))))[1]["outcome"] == "duplicate"
    assert (await post_event(pay, *signed(refunded("pi_not_ours", 100, 100))))[1]["outcome"] == "unmatched"
    record = await db["payments"].find_one({"_id": payment["payment_id"]})
    assert (record["state"], record["refunded_premium"], record["chargeback_premium"]) == ("disputed", 301, 899)
    assert await db["debts"].count_documents({}) == 0
    assert_audit_passes(mongo_url, mongo_db_name)


async def test_a_refund_arriving_before_its_payment_is_applied_when_the_payment_completes(
        pay: Any, db: Any, mongo_url: str, mongo_db_name: str) -> None:
    who = await register(pay)
    payment = await checkout(pay, who, "premium-100")
    intent = f"pi_{payment['payment_id']}"
    early = refunded(intent, 199, 199)
    assert (await post_event(pay, *signed(early)))[1]["outcome"] == "unmatched"  # no payment has that intent yet
    assert await premium(pay, who) == 0
    status, answer = await post_event(pay, *signed(completed(payment, who["account_id"], intent=intent)))
    assert (status, answer["outcome"]) == (200, "credited")
    assert await premium(pay, who) == 0  # credited and refunded in the same transaction
    record = await db["payments"].find_one({"_id": payment["payment_id"]})
    assert (record["state"], record["refunded_premium"]) == ("refunded", 100)
    held = await db["payment_events"].find_one({"_id": early["id"]})
    assert (held["outcome"], held["payment"]) == ("refunded", payment["payment_id"])
    assert (await post_event(pay, *signed(early)))[1]["outcome"] == "duplicate"
    assert_audit_passes(mongo_url, mongo_db_name)


async def test_the_audit_names_a_double_credit_and_a_wrong_debt(pay: Any, db: Any, mongo_url: str,
                                                               mongo_db_name: str) -> None:
    from tests.commerce.test_storm import audit

    who = await register(pay)
    payment = await checkout(pay, who)
    await sandbox_pay(pay, payment)
    assert_audit_passes(mongo_url, mongo_db_name)
    await db["payments"].update_one({"_id": payment["payment_id"]}, {"$set": {"premium": 200}})
    done = audit(mongo_url, mongo_db_name)
    assert done.returncode == 1 and "payment_credit" in done.stderr
    await db["payments"].update_one({"_id": payment["payment_id"]}, {"$set": {"premium": 100}})
    await db["debts"].insert_one({"_id": "refund:" + "0" * 32, "account": who["account_id"], "currency": "premium",
                                  "amount": 5, "paid": 0, "remaining": 5, "cause": "refund"})
    done = audit(mongo_url, mongo_db_name)
    assert done.returncode == 1 and "debt_without_debit" in done.stderr
