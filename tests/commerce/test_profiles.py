"""Public profiles through the real app: what they show, what they never show, and a
matchmaker that is unset or down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from commerce.settings import CommerceSettings
from elysium import config, procs
from elysium.config import ConfigError
from tests.commerce.conftest import make_settings, register
from tests.matchmaker.conftest import mm_factory, mm_settings  # noqa: F401
from tests.matchmaker.test_history import deliver, result

PUBLIC_KEYS = {"id", "display_name", "avatar_url", "created_at", "ratings", "recent_matches", "unavailable"}


async def test_a_profile_shows_the_public_parts_only(client: Any) -> None:
    a, b = await register(client), await register(client)
    resp = await client.patch("/v1/me", json={"display_name": "Bee", "avatar_url": "https://cdn.example/b.png",
                                              "settings": {"secret": "x"}, "region": "eu-west"},
                              headers=b["headers"])
    assert resp.status == 200
    resp = await client.get(f"/v1/players/{b['account_id']}", headers=a["headers"])
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert set(body) == PUBLIC_KEYS  # no username, settings, region, wallet or balances
    assert body["id"] == b["account_id"] and body["display_name"] == "Bee"
    assert body["avatar_url"] == "https://cdn.example/b.png"
    # No matchmaker is configured here: those parts are marked unavailable, the profile still answers.
    assert body["ratings"] is None and body["recent_matches"] is None
    assert body["unavailable"] == ["ratings", "recent_matches"]


async def test_a_matchmaker_that_is_down_leaves_the_profile_answering(client_for: Any, mongo_url: str,
                                                                      mongo_db_name: str, redis_url: str,
                                                                      keys_dir: Path) -> None:
    down = f"http://127.0.0.1:{procs.free_port()}"
    client = await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, matchmaker_url=down,
                                            matchmaker_timeout_s=1.0))
    a = await register(client)
    resp = await client.get(f"/v1/players/{a['account_id']}", headers=a["headers"])
    assert resp.status == 200
    assert (await resp.json())["unavailable"] == ["ratings", "recent_matches"]


async def test_bad_profile_requests(client: Any) -> None:
    a = await register(client)
    for path, status, code in ((f"/v1/players/{'0' * 32}", 404, "player-not-found"),
                               ("/v1/players/house", 404, "player-not-found"),
                               ("/v1/players/a%20b", 404, "player-not-found"),
                               (f"/v1/players/{a['account_id']}?x=1", 400, "invalid-request")):
        resp = await client.get(path, headers=a["headers"])
        assert resp.status == status and (await resp.json())["code"] == code, path
    resp = await client.get(f"/v1/players/{a['account_id']}")
    assert resp.status == 401


async def test_an_avatar_must_be_an_https_url(client: Any) -> None:
    a = await register(client)
    for bad in ("http://cdn.example/a.png", "javascript:alert(1)", "https://" + "a" * 600, 5):
        resp = await client.patch("/v1/me", json={"avatar_url": bad}, headers=a["headers"])
        assert resp.status == 400 and "avatar_url" in (await resp.json())["errors"], bad
    assert (await (await client.get("/v1/me", headers=a["headers"])).json())["avatar_url"] is None


async def test_ratings_and_recent_matches_come_from_a_real_matchmaker(client_for: Any, mm_factory: Any,
                                                                      mongo_url: str, mongo_db_name: str,
                                                                      redis_url: str, keys_dir: Path) -> None:
    mm = await mm_factory(mongo_db="history_" + mongo_db_name[-40:], season="s1")
    base = str(mm.make_url("")).rstrip("/")
    client = await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, matchmaker_url=base))
    a, b = await register(client), await register(client)
    # The matchmaker knows a match's mode from its id (the matches it made): "arena.<...>".
    await deliver(mm, result("arena.one", {a["account_id"]: 3, b["account_id"]: 1}),
                  result("arena.two", {a["account_id"]: 0, b["account_id"]: 2}, ended_s=60.0))
    resp = await client.get(f"/v1/players/{a['account_id']}", headers=b["headers"])
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["unavailable"] == []
    [rating] = body["ratings"]
    assert (rating["mode"], rating["season"], rating["matches"], rating["wins"]) == ("arena", "s1", 2, 1)
    assert set(rating) == {"mode", "season", "ordinal", "mu", "sigma", "matches", "wins"}
    assert [m["match_id"] for m in body["recent_matches"]] == ["arena.two", "arena.one"]  # newest first
    await mm.close()  # the matchmaker goes away: the profile still answers, those parts marked
    body = await (await client.get(f"/v1/players/{a['account_id']}", headers=b["headers"])).json()
    assert body["ratings"] is None and body["unavailable"] == ["ratings", "recent_matches"]


@pytest.mark.parametrize(("variable", "value"), [
    ("ELYSIUM_COMMERCE_MATCHMAKER_URL", "ws://mm:7360"), ("ELYSIUM_COMMERCE_MATCHMAKER_URL", "mm:7360"),
    ("ELYSIUM_COMMERCE_SPECTATOR_URL", "http://relay:7370"), ("ELYSIUM_COMMERCE_MATCHMAKER_TIMEOUT_S", "0"),
    ("ELYSIUM_COMMERCE_MAX_FRIENDS", "0"), ("ELYSIUM_COMMERCE_MAX_FRIENDS", "5000"),
])
def test_bad_social_settings_stop_the_start_naming_the_variable(keys_dir: Path, variable: str, value: str) -> None:
    env = {"ELYSIUM_MONGO_URL": "mongodb://127.0.0.1:1/", "ELYSIUM_REDIS_URL": "redis://127.0.0.1:1/0",
           "ELYSIUM_PLAYER_PRIVATE_KEY_FILE": str(keys_dir / "player.key"), variable: value}
    with pytest.raises(ConfigError) as err:
        config.load(CommerceSettings, environ=env)
    assert err.value.variable == variable
