"""The Stripe provider: the real ``stripe`` library against a local stand-in of Stripe's API, and
webhooks signed with Stripe's scheme so ``stripe.Webhook.construct_event`` really verifies them."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from pymongo import AsyncMongoClient

from commerce.app import create_app
from commerce.settings import CommerceSettings
from elysium import config
from elysium.config import ConfigError
from tests.commerce.conftest import make_settings, register
from tests.commerce.paying import (WEBHOOK_SECRET, assert_audit_passes, deliver, post_event, premium_totals,
                                   refunded, signed)
from tests.commerce.stripe_standin import StripeStandIn

SECRET_KEY = "sk_test_" + "9" * 40


@pytest.fixture
async def standin() -> Any:
    fake = StripeStandIn(SECRET_KEY)
    server = TestServer(fake.app())
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    yield fake
    await server.close()


@pytest.fixture
def stripe_settings(mongo_url: str, mongo_db_name: str, redis_url: str, keys_dir: Any, tmp_path: Path,
                    standin: Any) -> CommerceSettings:
    key_file = tmp_path / "stripe.key"
    key_file.write_text(SECRET_KEY + "\n")
    return make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, payments_provider="stripe",
                         stripe_secret_key_file=str(key_file), stripe_webhook_secret=WEBHOOK_SECRET,
                         stripe_api_base=standin.url, payments_success_url="https://play.example/paid",
                         payments_cancel_url="https://play.example/shop", mongo_timeout_s=60.0)


@pytest.fixture
async def db(mongo_url: str, mongo_db_name: str) -> Any:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    yield client[mongo_db_name]
    await client.close()


async def _checkout(client: Any, who: dict[str, Any], pack: str, key: str) -> Any:
    return await client.post("/v1/payments/checkout", json={"pack_id": pack},
                             headers={**who["headers"], "Idempotency-Key": key})


async def test_checkout_creates_a_stripe_session_carrying_player_and_pack(client_for: Any,
                                                                         stripe_settings: CommerceSettings,
                                                                         standin: Any) -> None:
    client = await client_for(stripe_settings)
    who = await register(client)
    resp = await _checkout(client, who, "premium-550", "order-1")
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["provider"] == "stripe" and body["state"] == "pending"
    assert body["payment_id"].startswith("cs_test_") and body["checkout_url"].startswith("https://checkout.stripe")
    [call] = standin.calls
    form = call["form"]
    assert call["auth"] == f"Bearer {SECRET_KEY}"  # the key read from its file
    assert form["mode"] == "payment" and form["client_reference_id"] == who["account_id"]
    assert (form["metadata[player]"], form["metadata[pack]"]) == (who["account_id"], "premium-550")
    assert (form["line_items[0][price_data][unit_amount]"], form["line_items[0][price_data][currency]"]) == ("999",
                                                                                                          "eur")
    assert form["success_url"] == "https://play.example/paid" and form["cancel_url"] == "https://play.example/shop"
    assert call["idempotency_key"] and "order-1" not in call["idempotency_key"]
    # A retry answers the stored checkout without asking Stripe again.
    again = await _checkout(client, who, "premium-550", "order-1")
    assert again.status == 200 and (await again.json())["payment_id"] == body["payment_id"]
    assert len(standin.calls) == 1
    other = await _checkout(client, who, "premium-100", "order-1")
    assert other.status == 422 and (await other.json())["code"] == "idempotency-key-reused"


async def test_stripe_failures_answer_502_and_record_nothing(client_for: Any, stripe_settings: CommerceSettings,
                                                             standin: Any, db: Any) -> None:
    client = await client_for(stripe_settings)
    who = await register(client)
    standin.fail_next = 10
    resp = await _checkout(client, who, "premium-100", "k-fail")
    body = await resp.json()
    assert resp.status == 502 and body["code"] == "payment-provider" and SECRET_KEY not in body["detail"]
    assert len(standin.calls) == 3  # the library's two retries, each with the same idempotency key
    assert len({c["idempotency_key"] for c in standin.calls}) == 1
    assert await db["payments"].count_documents({}) == 0
    standin.fail_next = 0
    assert (await _checkout(client, who, "premium-100", "k-fail")).status == 201
    wrong = await client_for(replace(stripe_settings, stripe_secret_key="sk_test_wrong", stripe_secret_key_file=""))
    resp = await _checkout(wrong, who, "premium-100", "k-other")
    assert resp.status == 502 and "sk_test_wrong" not in await resp.text()


async def test_the_stripe_flow_credits_once_under_a_storm_and_refunds(client_for: Any,
                                                                     stripe_settings: CommerceSettings,
                                                                     standin: Any, db: Any, mongo_url: str,
                                                                     mongo_db_name: str,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = await client_for(stripe_settings)
    who = await register(client)
    body = await (await _checkout(client, who, "premium-100", uuid.uuid4().hex)).json()
    event = standin.completed_event(body["payment_id"])
    delivery = signed(event)
    answers = await asyncio.gather(*(deliver(client, *delivery) for _ in range(20)))
    assert sorted(a["outcome"] for _, a in answers) == ["credited"] + ["duplicate"] * 19
    wallet = await (await client.get("/v1/me/wallet", headers=who["headers"])).json()
    assert wallet["balances"]["premium"] == 100 and wallet["debts"] == []
    intent = event["data"]["object"]["payment_intent"]
    status, answer = await post_event(client, *signed(refunded(intent, 199, 199)))
    assert (status, answer["outcome"]) == (200, "refunded")
    totals = await premium_totals(db)
    assert totals["wallets"] == totals["credited"] - totals["asked"] + totals["owed"] == 0
    assert_audit_passes(mongo_url, mongo_db_name)
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert SECRET_KEY not in logged and WEBHOOK_SECRET not in logged


def test_stripe_needs_its_keys_and_reads_them_from_files(tmp_path: Path, keys_dir: Path) -> None:
    base = {"mongo_url": "mongodb://127.0.0.1:1/", "redis_url": "redis://127.0.0.1:1/0",
            "player_private_key_file": str(keys_dir / "player.key"), "payments_provider": "stripe",
            "payments_success_url": "https://x.example/ok"}
    with pytest.raises(ConfigError) as err:
        config.load(CommerceSettings, environ={}, **{**base, "stripe_webhook_secret": "whsec_1"})
    assert err.value.variable == "ELYSIUM_STRIPE_SECRET_KEY"
    with pytest.raises(ConfigError) as err:
        config.load(CommerceSettings, environ={}, **{**base, "stripe_secret_key": "sk_1"})
    assert err.value.variable == "ELYSIUM_STRIPE_WEBHOOK_SECRET"
    settings = config.load(CommerceSettings, environ={}, **{**base, "stripe_secret_key_file": str(tmp_path / "none"),
                                                           "stripe_webhook_secret": "whsec_1"})
    with pytest.raises(ConfigError) as err:
        create_app(settings)
    assert err.value.variable == "ELYSIUM_STRIPE_SECRET_KEY_FILE"
    shown = config.redacted(config.load(CommerceSettings, environ={}, **{**base, "stripe_secret_key": "sk_live_x",
                                                                        "stripe_webhook_secret": "whsec_y"}))
    assert "sk_live_x" not in str(shown) and "whsec_y" not in str(shown)
