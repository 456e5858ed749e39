from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from elysium import tokens
from elysium.tokens import JOIN_AUDIENCE, PLAYER_AUDIENCE, Signer, TokenError, Verifier


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Signer, Verifier]:
    priv, pub = tokens.generate_keypair(tmp_path, "k")
    assert oct(priv.stat().st_mode & 0o777) == "0o600"
    return Signer(tokens.load_private_key(path=str(priv)), "iss"), Verifier(tokens.load_public_key(path=str(pub)))


def test_issue_and_verify(pair: tuple[Signer, Verifier]) -> None:
    signer, verifier = pair
    token = signer.issue("alice", PLAYER_AUDIENCE, 60, {"name": "Alice"})
    claims = verifier.verify(token, PLAYER_AUDIENCE, issuer="iss")
    assert claims["sub"] == "alice" and claims["name"] == "Alice" and len(claims["jti"]) == 32
    assert claims["exp"] - claims["iat"] == 60
    assert signer.issue("alice", PLAYER_AUDIENCE, 60) != token  # a fresh id every time


@pytest.mark.parametrize("case", ["audience", "expired", "signature", "lifetime", "garbage", "issuer", "empty"])
def test_rejections_have_stable_codes(pair: tuple[Signer, Verifier], tmp_path: Path, case: str) -> None:
    signer, verifier = pair
    kwargs: dict[str, Any] = {}
    if case == "audience":
        token, code = signer.issue("a", PLAYER_AUDIENCE, 60), "token_audience"
    elif case == "expired":
        token, code = signer.issue("a", JOIN_AUDIENCE, 10, now=time.time() - 100), "token_expired"
    elif case == "signature":
        other = Signer(tokens.load_private_key(path=str(tokens.generate_keypair(tmp_path, "o")[0])), "iss")
        token, code = other.issue("a", JOIN_AUDIENCE, 60), "token_signature"
    elif case == "lifetime":
        token, code = signer.issue("a", JOIN_AUDIENCE, 3600), "token_lifetime"
        kwargs["max_ttl_s"] = 60
    elif case == "issuer":
        token, code = signer.issue("a", JOIN_AUDIENCE, 60), "token_issuer"
        kwargs["issuer"] = "someone-else"
    elif case == "empty":
        token, code = "", "token_malformed"
    else:
        token, code = "a.b.c", "token_malformed"
    with pytest.raises(TokenError) as info:
        verifier.verify(token, JOIN_AUDIENCE, **kwargs)
    assert info.value.code == code


def test_a_token_without_iss_is_rejected(pair: tuple[Signer, Verifier], tmp_path: Path) -> None:
    signer, verifier = pair
    now = int(time.time())
    body = {"sub": "a", "aud": JOIN_AUDIENCE, "iat": now, "exp": now + 30, "jti": "j1"}
    token = jwt.encode(body, signer.key, algorithm=tokens.ALGORITHM)
    with pytest.raises(TokenError, match="lacks claim iss") as info:
        verifier.verify(token, JOIN_AUDIENCE)
    assert info.value.code == "token_claims"
    named = signer.issue("a", JOIN_AUDIENCE, 30)
    assert verifier.verify(named, JOIN_AUDIENCE, issuer=("other", "iss"))["iss"] == "iss"
    with pytest.raises(TokenError) as info:
        verifier.verify(named, JOIN_AUDIENCE, issuer=("other", "another"))
    assert info.value.code == "token_issuer"


def test_keys_load_from_text_and_report_problems(tmp_path: Path) -> None:
    priv, pub = tokens.generate_keypair(tmp_path, "k")
    assert tokens.load_public_key(text=pub.read_text())
    with pytest.raises(tokens.KeyError_, match="cannot read"):
        tokens.load_private_key(path=str(tmp_path / "missing.key"))
    with pytest.raises(tokens.KeyError_, match="not a PEM public key"):
        tokens.load_public_key(text="-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    with pytest.raises(tokens.KeyError_, match="no private key"):
        tokens.load_private_key()
