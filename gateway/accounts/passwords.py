"""Password hashing with Argon2id (argon2-cffi), and the password rules."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from skinscan.errors import InvalidRequestError

__all__ = ["MIN_PASSWORD_LENGTH", "Passwords", "check_password_rules", "generate_password"]

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256


def check_password_rules(password: str) -> None:
    # Length over composition rules (NIST SP 800-63B); the upper bound stops a
    # megabyte "password" from costing a megabyte of hashing.
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequestError(
            f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidRequestError(f"the password is longer than {MAX_PASSWORD_LENGTH} characters")


def generate_password() -> str:
    """A one-time password to print once: 128 random bits, easy to copy."""
    return secrets.token_urlsafe(16)


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        # Verifying against this when the account does not exist takes as long
        # as a real check, so response times do not tell which names exist.
        self._decoy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return (
                self._hasher.verify(stored_hash or self._decoy, password)
                and stored_hash is not None
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with weaker parameters than today's."""
        return self._hasher.check_needs_rehash(stored_hash)
