"""The account lifecycle through the real app: register, log in, refresh, log out, password, profile."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from commerce.appkeys import STORE
from commerce.settings import CommerceSettings
from elysium import procs, tokens
from elysium.http import VerifiedTokens
from elysium.problem import Problem
from tests.commerce.conftest import make_settings, register

PROBLEM = "application/problem+json"


async def _problem(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == PROBLEM
    body: dict[str, Any] = await resp.json()
    assert body["type"] == f"urn:elysium:problem:{code}" and body["code"] == code and body["status"] == status
    return body


async def test_whole_account_lifecycle(client: Any, keys_dir: Path) -> None:
    p = await register(client, "Alice_01", "first password 1")
    assert p["profile"]["username"] == "Alice_01" and p["token_type"] == "Bearer"
    # The access token verifies with the public key alone, as the matchmaker does.
    verifier = tokens.Verifier(tokens.load_public_key(path=str(keys_dir / "player.pub")))
    claims = verifier.verify(p["access_token"], tokens.PLAYER_AUDIENCE, issuer="elysium-commerce")
    assert claims["sub"] == p["account_id"] and claims["name"] == "Alice_01"

    await _problem(await client.post("/v1/accounts", json={"username": "alice_01", "password": "another pass"}),
                   409, "username-taken")

    resp = await client.post("/v1/sessions", json={"username": "ALICE_01", "password": "first password 1"})
    assert resp.status == 200
    login = await resp.json()
    assert login["account_id"] == p["account_id"]

    # Refresh rotates; the old refresh token used again once its successor is used revokes the whole login.
    resp = await client.post("/v1/sessions/refresh", json={"refresh_token": login["refresh_token"]})
    assert resp.status == 200
    rotated = await resp.json()
    assert rotated["refresh_token"] != login["refresh_token"]
    resp = await client.post("/v1/sessions/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert resp.status == 200
    latest = await resp.json()
    await _problem(await client.post("/v1/sessions/refresh", json={"refresh_token": login["refresh_token"]}),
                   401, "refresh-token-reused")
    await _problem(await client.post("/v1/sessions/refresh", json={"refresh_token": latest["refresh_token"]}),
                   401, "invalid-refresh-token")

    # Logout revokes the family of the registration's refresh token.
    assert (await client.post("/v1/sessions/logout", json={"refresh_token": p["refresh_token"]})).status == 204
    await _problem(await client.post("/v1/sessions/refresh", json={"refresh_token": p["refresh_token"]}),
                   401, "invalid-refresh-token")

    # Profile.
    h = p["headers"]
    resp = await client.patch("/v1/me", json={"display_name": "Al", "region": "eu-west",
                                              "avatar_url": "https://cdn.example/a.png", "settings": {"fov": 90}},
                              headers=h)
    assert resp.status == 200
    prof = await (await client.get("/v1/me", headers=h)).json()
    assert (prof["display_name"], prof["region"], prof["settings"]) == ("Al", "eu-west", {"fov": 90})
    for bad in ({"display_name": ""}, {"avatar_url": "javascript:alert(1)"}, {"username": "x"}, {},
                {"settings": {"k": "v" * 5000}}, {"region": 5}):
        await _problem(await client.patch("/v1/me", json=bad, headers=h), 400, "invalid-request")
    assert (await (await client.get("/v1/me", headers=h)).json()) == prof

    # Password change: the old password stops working, the new one works, refresh tokens are revoked.
    resp = await client.post("/v1/sessions", json={"username": "alice_01", "password": "first password 1"})
    live = await resp.json()
    await _problem(await client.post("/v1/me/password", json={"current_password": "wrong one",
                                                                "new_password": "second password 2"}, headers=h),
                   401, "invalid-credentials")
    assert (await client.post("/v1/me/password", json={"current_password": "first password 1",
                                                        "new_password": "second password 2"}, headers=h)).status == 204
    await _problem(await client.post("/v1/sessions", json={"username": "alice_01", "password": "first password 1"}),
                   401, "invalid-credentials")
    await _problem(await client.post("/v1/sessions/refresh", json={"refresh_token": live["refresh_token"]}),
                   401, "invalid-refresh-token")
    assert (await client.post("/v1/sessions", json={"username": "alice_01",
                                                    "password": "second password 2"})).status == 200

    # Passwords are stored as argon2id hashes, never in clear.
    store_doc = await client.app[STORE].accounts.find_one(
        {"_id": p["account_id"]})
    assert store_doc["password_hash"].startswith("$argon2id$") and "second" not in store_doc["password_hash"]


async def test_failed_logins_do_not_tell_whether_the_username_exists(client: Any) -> None:
    await register(client, "bob_the_builder", "can we fix it")
    wrong = await _problem(await client.post("/v1/sessions", json={"username": "bob_the_builder", "password": "no"}),
                           401, "invalid-credentials")
    unknown = await _problem(await client.post("/v1/sessions", json={"username": "nobody_here", "password": "no"}),
                             401, "invalid-credentials")
    per_request = {"instance", "request_id"}
    assert ({k: v for k, v in wrong.items() if k not in per_request}
            == {k: v for k, v in unknown.items() if k not in per_request})


async def test_logins_are_rate_limited_per_account_and_per_address(client_for: Any, mongo_url: str,
                                                                   mongo_db_name: str, redis_url: str,
                                                                   keys_dir: Path) -> None:
    settings: CommerceSettings = make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, login_max_failures=3,
                                               login_max_failures_per_address=6)
    client = await client_for(settings)
    await register(client, "carol_x", "right password")
    for _ in range(3):
        await _problem(await client.post("/v1/sessions", json={"username": "carol_x", "password": "bad"}),
                       401, "invalid-credentials")
    # Even the right password is refused now, with a Retry-After.
    resp = await client.post("/v1/sessions", json={"username": "carol_x", "password": "right password"})
    await _problem(resp, 429, "rate-limited")
    assert 1 <= int(resp.headers["Retry-After"]) <= settings.login_window_s
    # Other usernames from the same address: three more failures reach the address limit.
    for name in ("dave_x", "erin_x", "frank_x"):
        await _problem(await client.post("/v1/sessions", json={"username": name, "password": "bad"}),
                       401, "invalid-credentials")
    await _problem(await client.post("/v1/sessions", json={"username": "grace_x", "password": "bad"}),
                   429, "rate-limited")


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_address_limit(
        client_for: Any, mongo_url: str, mongo_db_name: str, redis_url: str, keys_dir: Path) -> None:
    # The test client connects from 127.0.0.1, here the trusted proxy (the gateway, an ingress).
    settings: CommerceSettings = make_settings(mongo_url, mongo_db_name, redis_url, keys_dir,
                                               login_max_failures_per_address=2, trusted_proxies="127.0.0.1/32")
    client = await client_for(settings)

    async def fail(name: str, forwarded_for: str, status: int) -> None:
        await _problem(await client.post("/v1/sessions", json={"username": name, "password": "bad"},
                                         headers={"X-Forwarded-For": forwarded_for}),
                       status, "invalid-credentials" if status == 401 else "rate-limited")

    await fail("henry_x", "198.51.100.1", 401)
    await fail("iris_x", "198.51.100.1", 401)
    await fail("jack_x", "198.51.100.1", 429)  # that client's limit is spent ...
    await fail("jack_x", "198.51.100.2", 401)  # ... not every player's behind the same proxy
    # A client cannot step out of its limit by writing its own X-Forwarded-For: the proxy appends what it saw.
    await fail("kate_x", "203.0.113.5, 198.51.100.1", 429)


async def test_bad_tokens_and_bad_bodies_are_refused(client: Any, keys_dir: Path, join_signer: tokens.Signer) -> None:
    await _problem(await client.get("/v1/me"), 401, "unauthorized")
    await _problem(await client.get("/v1/me", headers={"Authorization": "Bearer abc"}), 401, "invalid-token")
    # A join token (another audience, another key) is not an access token.
    join = join_signer.issue("someone", tokens.JOIN_AUDIENCE, 30)
    body = await _problem(await client.get("/v1/me", headers={"Authorization": f"Bearer {join}"}), 401,
                          "invalid-token")
    assert body["token_error"] in ("token_signature", "token_audience")
    expired = tokens.Signer(tokens.load_private_key(path=str(keys_dir / "player.key")), "elysium-commerce").issue(
        "someone", tokens.PLAYER_AUDIENCE, 1, now=1_000_000)
    body = await _problem(await client.get("/v1/me", headers={"Authorization": f"Bearer {expired}"}), 401,
                          "invalid-token")
    assert body["token_error"] == "token_expired"
    for bad in ({"username": "ab", "password": "long enough pw"}, {"username": "ok_name", "password": "short"},
                {"username": "ok_name", "password": "long enough pw", "admin": True},
                {"username": ["x"], "password": "long enough pw"}, [1, 2]):
        await _problem(await client.post("/v1/accounts", json=bad), 400, "invalid-request")
    await _problem(await client.post("/v1/accounts", data=b"{not json", headers={"Content-Type": "application/json"}),
                   400, "invalid-json")
    await _problem(await client.post("/v1/accounts", data=b'{"username": NaN}',
                                     headers={"Content-Type": "application/json"}), 400, "invalid-json")
    await _problem(await client.post("/v1/accounts", data=b"username=x"), 415, "unsupported-media-type")
    await _problem(await client.post("/v1/accounts", data=b"{" + b" " * 20_000 + b"}",
                                     headers={"Content-Type": "application/json"}), 413, "body-too-large")
    await _problem(await client.delete("/v1/me"), 405, "method-not-allowed")
    accounts = client.app[STORE].accounts
    assert await accounts.count_documents({"system": {"$ne": True}}) == 0  # players; system accounts exist


async def test_an_unreachable_redis_makes_logins_unavailable_not_broken(client_for: Any, mongo_url: str,
                                                                        mongo_db_name: str, keys_dir: Path) -> None:
    dead = f"redis://127.0.0.1:{procs.free_port()}/0"
    client = await client_for(make_settings(mongo_url, mongo_db_name, dead, keys_dir))
    await register(client, "henry_x", "right password")  # registration needs only MongoDB
    resp = await client.post("/v1/sessions", json={"username": "henry_x", "password": "right password"})
    await _problem(resp, 503, "unavailable")
    ready = await client.get("/readyz")
    assert ready.status == 503 and (await ready.json())["redis"] is False


def test_remembered_tokens_are_checked_again_once_expired(keys_dir: Path, player_signer: tokens.Signer) -> None:
    cache = VerifiedTokens(tokens.Verifier(tokens.load_public_key(path=str(keys_dir / "player.pub"))),
                           tokens.PLAYER_AUDIENCE, "elysium-commerce", size=2)
    good = player_signer.issue("acct", tokens.PLAYER_AUDIENCE, 60)
    assert cache.claims(good)["sub"] == "acct"
    # A remembered entry past its expiry is not trusted: the token is verified again (and here fails).
    cache._claims["forged"] = {"sub": "x", "exp": time.time() - 60}
    with pytest.raises(Problem) as exc:
        cache.claims("forged")
    assert exc.value.code == "invalid-token"
    for n in range(3):
        cache.claims(player_signer.issue(f"a{n}", tokens.PLAYER_AUDIENCE, 60))
    assert len(cache._claims) == 2
