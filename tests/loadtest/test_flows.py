"""Seats for simulated players: development tokens the server accepts, and the full flow's failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from elysium import procs, tokens
from gameserver.room import spec_from_claims
from loadtest.errors import FlowUnavailable
from loadtest.flows import DirectFlow, FlowError, FullFlow, make_flow


def _direct(signer: tokens.Signer, players: int = 25) -> DirectFlow:
    return DirectFlow(url="ws://h/v1/play", server_id="gs-9", signer=signer, run_id="r1", players=players,
                      room_size=10, ramp_per_s=5, duration_s=30, tick_hz=None, seed=4)


async def test_direct_flow_fills_matches_in_order_and_the_server_accepts_the_rooms(join_signer: tokens.Signer,
                                                                                    keys_dir: Path) -> None:
    flow = _direct(join_signer)
    first, tenth, last = await flow.assign(0), await flow.assign(9), await flow.assign(24)
    assert first.match_id == tenth.match_id != last.match_id
    verifier = tokens.Verifier(tokens.load_public_key(path=str(keys_dir / "join.pub")))
    claims = verifier.verify(last.token, tokens.JOIN_AUDIENCE)
    assert claims["srv"] == "gs-9" and claims["mid"] == "lt-r1-2" and claims["sub"] == "lt-r1-p24"
    spec = spec_from_claims(claims["mid"], claims["room"], default_tick_hz=20, max_seats=100)
    # The last match has the 5 remaining players and starts when they are all in; it outlasts the run.
    assert spec.seats == spec.min_players == 5 and float(spec.options["time_limit_s"]) >= 25 / 5 + 30
    assert (await flow.assign(0)).token != first.token  # a fresh token (new jti) for every attempt


def test_full_flow_needs_both_services() -> None:
    with pytest.raises(FlowUnavailable, match="needs commerce and matchmaker"):
        make_flow({"flow": "full", "commerce_url": None, "matchmaker_url": None})
    with pytest.raises(FlowUnavailable, match="needs matchmaker"):
        make_flow({"flow": "full", "commerce_url": "http://c", "matchmaker_url": ""})


async def test_full_flow_reports_an_unreachable_commerce_by_cause() -> None:
    port = procs.free_port()
    flow = FullFlow(commerce_url=f"http://127.0.0.1:{port}", matchmaker_url=f"http://127.0.0.1:{port}",
                    run_id="r2", mode="arena", region="local", match_timeout_s=5, http_timeout_s=5)
    try:
        with pytest.raises(FlowError) as caught:
            await flow.assign(1)
        assert caught.value.cause == "register_unreachable"
    finally:
        await flow.close()
