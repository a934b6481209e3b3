"""Signed access tokens (PyJWT, HS256), opaque refresh tokens and API keys.

An access token is a short-lived JWT naming the user, clinic and role; it is
checked on every request against the user's current state (disabled, password
changed), so revocation takes effect at once. Refresh tokens and API keys are
random secrets of which only the SHA-256 is stored; being 256 random bits, they
need no slow hash, and a lookup by hash compares in constant time in effect
(the secret cannot be guessed byte by byte from an index lookup).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from skinscan.errors import UnauthenticatedError

__all__ = [
    "API_KEY_PREFIX",
    "MIN_KEY_BYTES",
    "AccessClaims",
    "AccessTokens",
    "api_key_secret",
    "digest",
    "digests_match",
    "new_secret",
    "parse_api_key",
]

ISSUER = "skinscan"
AUDIENCE = "skinscan-api"
ALGORITHM = "HS256"
# HS256 wants a key at least as long as its hash (RFC 7518, section 3.2).
MIN_KEY_BYTES = 32
# Tells an API key from a JWT at a glance (and to secret scanners).
API_KEY_PREFIX = "sks_"


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    clinic_id: str
    role: str
    issued_at: float  # seconds since the epoch, with fractions
    expires_at: float  # seconds since the epoch


class AccessTokens:
    def __init__(self, secret: bytes, ttl: timedelta) -> None:
        if len(secret) < MIN_KEY_BYTES:
            raise ValueError(f"the token signing key must have at least {MIN_KEY_BYTES} bytes")
        self._secret = secret
        self.ttl = ttl

    def derived_key(self, purpose: str) -> bytes:
        """A key of its own for another use (the web app's CSRF tokens): never the signing key."""
        return hmac.new(self._secret, purpose.encode(), hashlib.sha256).digest()

    def issue(self, user_id: str, clinic_id: str, role: str, now: datetime) -> str:
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": user_id,
            "clinic": clinic_id,
            "role": role,
            # Fractions kept: a password change at 10.4 s must refuse a token from 10.2 s.
            "iat": now.timestamp(),
            "exp": now + self.ttl,
            "jti": secrets.token_hex(8),
            "typ": "access",
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> AccessClaims:
        """The token's claims, or UnauthenticatedError for anything but a valid, current token."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except jwt.PyJWTError:
            raise UnauthenticatedError() from None
        if claims.get("typ") != "access":
            raise UnauthenticatedError()
        return AccessClaims(
            user_id=str(claims["sub"]),
            clinic_id=str(claims.get("clinic", "")),
            role=str(claims.get("role", "")),
            issued_at=float(claims["iat"]),
            expires_at=float(claims["exp"]),
        )


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def digests_match(stored: str, secret: str) -> bool:
    return hmac.compare_digest(stored, digest(secret))


def api_key_secret(key_id: str, secret: str) -> str:
    """The key as shown once to its owner: prefix, key id, secret."""
    return f"{API_KEY_PREFIX}{key_id}_{secret}"


def parse_api_key(presented: str) -> tuple[str, str] | None:
    """(key id, secret) of something that looks like an API key, else None."""
    if not presented.startswith(API_KEY_PREFIX):
        return None
    key_id, _, secret = presented[len(API_KEY_PREFIX) :].partition("_")
    if len(key_id) != 32 or not secret:
        return None
    return key_id, secret
