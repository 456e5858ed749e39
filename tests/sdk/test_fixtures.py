"""The web SDK's fixtures still say what the game server and the relay do.

``tests/sdk/fixtures.py`` makes them with the server's own encoders and a real room; the SDK's
Vitest tests (``web/sdk/test``) decode and encode against them. These tests make them again and
compare, and put every client frame the SDK is tested to produce through the server's strict
decoder, and every watch path through the relay's parser. After a deliberate protocol change:
``python -m tests.sdk.fixtures``, then the SDK's tests.
"""

from __future__ import annotations

from typing import Any

import pytest

from gameserver import protocol as p
from spectator import protocol as sp
from tests.sdk import fixtures


@pytest.fixture(scope="module")
def built() -> dict[str, str]:
    return fixtures.build()


@pytest.mark.parametrize("name", fixtures.NAMES)
def test_committed_fixture_is_what_the_server_produces(name: str, built: dict[str, str]) -> None:
    path = fixtures.HERE / name
    assert path.exists(), f"{name} is missing: run python -m tests.sdk.fixtures"
    assert path.read_text() == built[name], f"{name} differs from what the server produces now"


def test_making_the_fixtures_leaves_the_process_random_values_random() -> None:
    import secrets

    fixtures.build()
    assert len({secrets.token_urlsafe(18) for _ in range(3)}) == 3
    assert not secrets.token_urlsafe(18).startswith("resume-")


def test_every_client_frame_the_sdk_produces_is_accepted_by_the_server() -> None:
    frames = fixtures.client_frames()
    assert frames
    for frame in frames:
        try:
            p.decode_client(bytes.fromhex(frame["hex"]))
        except p.ProtocolViolation as exc:  # pragma: no cover - the failure message
            pytest.fail(f"the server refuses the {frame['kind']} fixture {frame['args']}: {exc.code} {exc}")


@pytest.mark.parametrize("req", fixtures.WATCH_REQUESTS, ids=lambda r: str(r["path"]))
def test_watch_paths_the_sdk_builds_are_read_by_the_relay_as_meant(req: dict[str, Any]) -> None:
    got = sp.parse_watch_target(req["path"], max_delay_s=300.0)
    opts = req["opts"]
    want = (req["match"], opts.get("delay"), 0 if opts.get("from") == "start" else opts.get("from"),
            float(opts.get("speed", 1.0)))
    assert (got.match_id, got.delay_s, got.from_tick, got.speed) == want
