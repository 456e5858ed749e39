"""Schemathesis against every served OpenAPI document, with the services running for real.

Bounded: a fixed seed and a fixed number of cases per operation and phase. Each service is
fuzzed with valid tokens (each operation gets the token of its security scheme) and with
none. Any finding of any check fails the test with schemathesis' report.

Alone: ``pytest tests/fuzz -q``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.fuzz import runner


async def test_fuzz_commerce_with_tokens(commerce_url: str, commerce_player: dict[str, Any], admin_token: str,
                                         tmp_path: Path) -> None:
    await runner.run(commerce_url, tmp_path, max_examples=40,
                     tokens={"player": commerce_player["access_token"], "service": admin_token},
                     accepts={"createPurchase": runner.IDEMPOTENT_ACCEPTS, "createGrant": runner.IDEMPOTENT_ACCEPTS})


async def test_fuzz_commerce_without_tokens(commerce_url: str, tmp_path: Path) -> None:
    await runner.run(commerce_url, tmp_path, max_examples=20)


# Rules of the matchmaker that two stateful checks assume otherwise (docs/matchmaker.md):
# DELETE /v1/tickets/{id} cancels a ticket, which stays readable (status cancelled) for the
# retention time; a party is disbanded by its last member leaving (DELETE .../members/me).
MATCHMAKER_EXEMPT = {
    "getTicket": ("use_after_free", "a cancelled ticket stays readable"),
    "streamTicketEvents": ("use_after_free", "a cancelled ticket's stream tells it was cancelled"),
    "getParty": ("ensure_resource_availability", "the last member leaving disbands a party"),
}


async def test_fuzz_matchmaker_with_a_token(matchmaker_url: str, player_token: Any, tmp_path: Path) -> None:
    token = player_token("fuzzer", ttl_s=3600.0)
    await runner.run(matchmaker_url, tmp_path, max_examples=40,
                     tokens={"player": token}, exempt=MATCHMAKER_EXEMPT)


async def test_fuzz_matchmaker_without_a_token(matchmaker_url: str, tmp_path: Path) -> None:
    await runner.run(matchmaker_url, tmp_path, max_examples=20, exempt=MATCHMAKER_EXEMPT)


async def test_fuzz_game_server(gameserver_url: str, tmp_path: Path) -> None:
    await runner.run(gameserver_url, tmp_path, max_examples=50)


async def test_fuzz_relay(relay_url: str, tmp_path: Path) -> None:
    await runner.run(relay_url, tmp_path, max_examples=50)
