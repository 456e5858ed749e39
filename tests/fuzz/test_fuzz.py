"""Schemathesis against every served OpenAPI document, with the services running for real.

Bounded: a fixed seed and a fixed number of cases per operation and phase. Each service is
fuzzed with valid tokens (each operation gets the token of its security scheme) and with
none. Any finding of any check fails the test with schemathesis' report.

Alone: ``pytest tests/fuzz -q``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fuzz import runner

pytestmark = pytest.mark.timeout(runner.TIMEOUT_S + 30)


# A search's cursor is opaque (only a cursor the API gave is valid) and a price order or range
# needs a currency: rules a schema cannot state, so a generated search may be answered 400.
MARKET_SEARCH_ACCEPTS = ["2xx", "400", "401", "404", "429", "5xx"]
# Rules of the marketplace (docs/commerce.md) that a stateful check assumes otherwise: a cancelled
# listing stays readable (state cancelled), and cancelling it again answers it as it is.
COMMERCE_EXEMPT = {
    "getListing": ("use_after_free", "a cancelled listing stays readable"),
    "cancelListing": ("use_after_free", "cancelling a cancelled listing again answers it as it is"),
}


# Works and licences: an address must pass its EIP-55 checksum and not be the zero address, a
# content hash must not be zero, a time must be from 1970 on, an item type must be in the
# catalog: rules a schema cannot state, so a well-formed request may be answered 400.
CHAIN_RULE_ACCEPTS = ["2xx", "400", "401", "403", "404", "409", "422", "429", "5xx"]
CHAIN_RULE_OPERATIONS = ("registerWork", "linkWorkItems", "grantLicence", "checkLicensee")


async def test_fuzz_commerce_with_tokens(commerce_url: str, commerce_player: dict[str, Any], admin_token: str,
                                         tmp_path: Path) -> None:
    accepts = {op: runner.IDEMPOTENT_ACCEPTS for op in ("createPurchase", "createGrant", "createCheckout", "createTrade",
                                                        "acceptTrade", "declineTrade", "cancelTrade", "createListing",
                                                        "purchaseListing", "withdrawItem", "banAccount",
                                                        "unbanAccount", "muteAccount", "unmuteAccount")}
    # A schema-valid address may fail its EIP-55 checksum (400), and a schema-valid message may
    # not parse as EIP-4361 or hold no live nonce (400, 422): the request is well formed.
    accepts.update({op: ["2xx", "400", "401", "403", "404", "409", "422", "429", "5xx"]
                    for op in ("createWalletChallenge", "linkWallet")})
    accepts.update(runner.WEBHOOK_ACCEPTS)
    accepts.update({op: CHAIN_RULE_ACCEPTS for op in CHAIN_RULE_OPERATIONS})
    accepts["searchListings"] = MARKET_SEARCH_ACCEPTS
    report = await runner.run(commerce_url, tmp_path, max_examples=60, accepts=accepts, exempt=COMMERCE_EXEMPT,
                              tokens={"player": commerce_player["access_token"], "service": admin_token},
                              timeout_s=2 * runner.TIMEOUT_S)  # the largest document: over fifty operations
    assert runner.generated(report) >= 1850


async def test_fuzz_commerce_without_tokens(commerce_url: str, tmp_path: Path) -> None:
    report = await runner.run(commerce_url, tmp_path, max_examples=25, exempt=COMMERCE_EXEMPT,
                              accepts={**runner.WEBHOOK_ACCEPTS, "searchListings": MARKET_SEARCH_ACCEPTS,
                                       **{op: CHAIN_RULE_ACCEPTS for op in CHAIN_RULE_OPERATIONS}})
    assert runner.generated(report) >= 1150


# Rules of the matchmaker that two stateful checks assume otherwise (docs/matchmaker.md):
# DELETE /v1/tickets/{id} cancels a ticket, which stays readable (status cancelled) for the
# retention time; a party is disbanded by its last member leaving (DELETE .../members/me).
MATCHMAKER_EXEMPT = {
    "getTicket": ("use_after_free", "a cancelled ticket stays readable"),
    "streamTicketEvents": ("use_after_free", "a cancelled ticket's stream tells it was cancelled"),
    "getParty": ("ensure_resource_availability", "the last member leaving disbands a party"),
    "joinParty": ("ensure_resource_availability", "the last member leaving disbands a party"),
    "leaveParty": ("ensure_resource_availability", "the last member leaving disbands a party"),
}


# A page's cursor is opaque: only a cursor the matchmaker gave out is valid (docs/matchmaker.md),
# a rule a schema cannot state, so a generated cursor is answered 400 invalid-cursor.
CURSOR_ACCEPTS = ["2xx", "400", "401", "403", "404", "409", "429", "5xx"]
MATCHMAKER_PAGED = ("listPlayerMatches", "getLeaderboard", "listGames")


# The custom games' nine operations nearly doubled the matchmaker's document: its run with a
# token needs more than the shared bound on a busy machine.
MATCHMAKER_TIMEOUT_S = 2 * runner.TIMEOUT_S


@pytest.mark.timeout(MATCHMAKER_TIMEOUT_S + 30)
async def test_fuzz_matchmaker_with_a_token(matchmaker_url: str, player_token: Any, tmp_path: Path) -> None:
    token = player_token("fuzzer", ttl_s=3600.0)
    report = await runner.run(matchmaker_url, tmp_path, max_examples=200, tokens={"player": token},
                              accepts={op: CURSOR_ACCEPTS for op in MATCHMAKER_PAGED},
                              exempt=MATCHMAKER_EXEMPT, timeout_s=MATCHMAKER_TIMEOUT_S)
    assert runner.generated(report) >= 1850


async def test_fuzz_matchmaker_without_a_token(matchmaker_url: str, tmp_path: Path) -> None:
    report = await runner.run(matchmaker_url, tmp_path, max_examples=70, exempt=MATCHMAKER_EXEMPT,
                              accepts={op: CURSOR_ACCEPTS for op in MATCHMAKER_PAGED})
    assert runner.generated(report) >= 1150


# A chat's stream ends by itself with done or error: read it whole, so every event is checked.
BUTLER_STREAMS = {"chat": 100}


async def test_fuzz_butler_with_a_token(butler_url: str, butler_player: dict[str, Any], tmp_path: Path) -> None:
    report = await runner.run(butler_url, tmp_path, max_examples=150, tokens={"bearer": butler_player["access_token"]},
                              stream_events=BUTLER_STREAMS)
    assert runner.generated(report) >= 1450


async def test_fuzz_butler_without_a_token(butler_url: str, tmp_path: Path) -> None:
    report = await runner.run(butler_url, tmp_path, max_examples=60)
    assert runner.generated(report) >= 980


async def test_fuzz_game_server(gameserver_url: str, tmp_path: Path) -> None:
    report = await runner.run(gameserver_url, tmp_path, max_examples=25)
    assert runner.generated(report) >= 20


async def test_fuzz_relay(relay_url: str, tmp_path: Path) -> None:
    report = await runner.run(relay_url, tmp_path, max_examples=25)
    assert runner.generated(report) >= 40


async def test_the_run_fails_on_a_finding(tmp_path: Path) -> None:
    """The harness itself: an app whose answer breaks its own document fails the run."""
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    from elysium import http

    document = {"openapi": "3.1.0", "info": {"title": "broken", "version": "1"}, "paths": {"/v1/thing": {"get": {
        "operationId": "getThing", "tags": ["thing"],
        "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
            "type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}}}}}}}}

    async def thing(request: web.Request) -> web.Response:
        return http.json_response({"nom": "typo"})  # not what the document promises

    app = http.application()
    http.add_probes(app, ready=lambda: _ready(), metrics=lambda: b"", openapi=document)
    app.router.add_get("/v1/thing", thing)
    server = TestServer(app)
    await server.start_server()
    try:
        with pytest.raises(AssertionError, match="Response violates schema"):
            await runner.run(str(server.make_url("")).rstrip("/"), tmp_path, max_examples=5,
                             phases="examples,coverage,fuzzing")
    finally:
        await server.close()


async def _ready() -> Any:
    from elysium import http

    return http.Ready(True)
