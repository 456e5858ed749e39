"""Ed25519 JSON Web Tokens: issue and verify with audience, expiry and a unique id.

Two kinds of token cross service boundaries (see ``docs/tokens.md``):

* player access tokens (audience :data:`PLAYER_AUDIENCE`), signed by commerce;
* join tokens (audience :data:`JOIN_AUDIENCE`), signed by the matchmaker or, for
  development, by ``elysium token join``; bound to one match, one server and one player.

Keys come from PEM text or a file. A verifier holds only public keys.
"""

from __future__ import annotations

import base64
import math
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.types import Options

PLAYER_AUDIENCE = "elysium:player"
JOIN_AUDIENCE = "elysium:join"
SERVICE_AUDIENCE = "elysium:service"
ALGORITHM = "EdDSA"
LEEWAY_S = 2.0
MATCHMAKER_ISSUER = "elysium-matchmaker"
DEV_ISSUER = "elysium-dev"
# Issuers a game server accepts on join tokens unless configured otherwise.
JOIN_ISSUERS = (MATCHMAKER_ISSUER, DEV_ISSUER)


class TokenError(Exception):
    """A token was rejected. ``code`` is stable and safe to show to the peer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class KeyError_(ValueError):
    """A key could not be loaded."""


def _read_pem(text: str | None, path: str | None, what: str) -> bytes:
    if text:
        return text.encode() if "-----BEGIN" in text else base64.b64decode(text)
    if path:
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise KeyError_(f"cannot read {what} file {path}: {exc.strerror}") from None
    raise KeyError_(f"no {what} configured")


def load_private_key(text: str | None = None, path: str | None = None) -> Ed25519PrivateKey:
    data = _read_pem(text, path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyError_(f"not a PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyError_("private key is not Ed25519")
    return key


def load_public_key(text: str | None = None, path: str | None = None) -> Ed25519PublicKey:
    data = _read_pem(text, path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise KeyError_(f"not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyError_("public key is not Ed25519")
    return key


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def generate_keypair(directory: str | os.PathLike[str], name: str) -> tuple[Path, Path]:
    """Write ``name.key`` (private, mode 0600) and ``name.pub`` into ``directory``."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    priv, pub = folder / f"{name}.key", folder / f"{name}.pub"
    fd = os.open(priv, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_pem(key))
    pub.write_bytes(public_pem(key.public_key()))
    return priv, pub


def ensure_keypair(directory: str | os.PathLike[str], name: str) -> tuple[Path, Path]:
    folder = Path(directory)
    priv, pub = folder / f"{name}.key", folder / f"{name}.pub"
    if priv.exists() and pub.exists():
        return priv, pub
    return generate_keypair(folder, name)


@dataclass(frozen=True)
class Signer:
    key: Ed25519PrivateKey
    issuer: str

    def issue(
        self,
        subject: str,
        audience: str,
        ttl_s: float,
        claims: Mapping[str, Any] | None = None,
        *,
        now: float | None = None,
        token_id: str | None = None,
    ) -> str:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        issued = time.time() if now is None else now
        body: dict[str, Any] = dict(claims or {})
        body.update(
            iss=self.issuer,
            sub=subject,
            aud=audience,
            iat=int(issued),
            exp=int(issued + ttl_s),
            jti=token_id or uuid.uuid4().hex,
        )
        return jwt.encode(body, self.key, algorithm=ALGORITHM)


def _is_time(value: object) -> bool:
    """A NumericDate (RFC 7519): a finite JSON number; PyJWT alone also takes a string of digits."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Verifier:
    key: Ed25519PublicKey

    def verify(
        self,
        token: str,
        audience: str,
        *,
        issuer: str | Sequence[str] | None = None,
        max_ttl_s: float | None = None,
        now: float | None = None,
    ) -> dict[str, Any]:
        """Check signature, audience, issuer, expiry and required claims; return the claims.

        ``iss`` is always required; ``issuer`` (one name or several) restricts who may have signed.
        """
        if not isinstance(token, str) or not token or len(token) > 8192 or not token.isascii():
            raise TokenError("token_malformed", "token must be a non-empty ASCII string of at most 8 KiB")
        options: Options = {"require": ["exp", "iat", "jti", "sub", "aud", "iss"], "verify_exp": now is None}
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.key,
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=issuer,
                leeway=LEEWAY_S,
                options=options,
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("token_expired", "token has expired") from None
        except jwt.InvalidAudienceError:
            raise TokenError("token_audience", "token is not meant for this service") from None
        except jwt.InvalidIssuerError:
            raise TokenError("token_issuer", "token has an unexpected issuer (iss)") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenError("token_claims", f"token lacks claim {exc.claim}") from None
        except jwt.InvalidSignatureError:
            raise TokenError("token_signature", "token signature is not valid") from None
        except jwt.PyJWTError as exc:
            raise TokenError("token_malformed", f"token cannot be read: {exc}") from None
        if not all(_is_time(claims[name]) for name in ("exp", "iat", "nbf") if name in claims):
            raise TokenError("token_claims", "exp, iat and nbf must be numbers (seconds since the epoch)")
        if now is not None and claims["exp"] + LEEWAY_S < now:
            raise TokenError("token_expired", "token has expired")
        if max_ttl_s is not None and claims["exp"] - claims["iat"] > max_ttl_s:
            raise TokenError("token_lifetime", f"token lives longer than {max_ttl_s:g} s")
        if not all(isinstance(claims.get(name), str) for name in ("sub", "jti", "iss")):
            raise TokenError("token_claims", "sub, jti and iss must be strings")
        return claims
