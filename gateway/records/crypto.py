"""Encryption of identifying fields and kept images (Fernet), and keyed hashes to search them.

Fernet (from `cryptography`) is authenticated encryption, so a row altered in
the database fails to decrypt rather than reading as something else.
Several keys may be configured, newest first: new values are encrypted with
the first, and any of them decrypts, so a key is rotated by putting a new one
first and re-encrypting (`FieldCipher.rotate`) before the old one is dropped.
The search key is separate: a keyed hash (HMAC-SHA256) of a normalised name
finds a patient without storing the name in clear, and without letting
someone with the database but not the key test guesses against it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from gateway.secret_files import kept_secret

__all__ = ["FieldCipher", "field_cipher", "normalise"]

KEYS_FILE = "field-encryption.keys"
SEARCH_KEY_FILE = "search.key"


def normalise(value: str) -> str:
    """How names and identifiers are compared: Unicode-normalised, case and spacing ignored."""
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


class FieldCipher:
    def __init__(self, keys: list[bytes], search_key: bytes) -> None:
        if not keys:
            raise ValueError("give at least one field-encryption key")
        if len(search_key) < 32:
            raise ValueError("the search key must have at least 32 bytes")
        try:
            self._fernet = MultiFernet([Fernet(k) for k in keys])
        except (ValueError, TypeError):
            raise ValueError(
                "SKINSCAN_FIELD_KEYS must be Fernet keys (32 url-safe base64-encoded bytes), "
                'comma-separated, newest first; make one with: python -c "from '
                'cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
            ) from None
        self._search_key = search_key

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str) -> str:
        return self.decrypt_bytes(token.encode()).decode()

    def encrypt_bytes(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def decrypt_bytes(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise ValueError(
                "a stored value cannot be decrypted: its key is not among SKINSCAN_FIELD_KEYS, "
                "or it was altered"
            ) from None

    def rotate(self, token: str) -> str:
        """The same value encrypted with the newest key."""
        return self._fernet.rotate(token.encode()).decode()

    def rotate_bytes(self, token: bytes) -> bytes:
        return self._fernet.rotate(token)

    def index(self, value: str) -> str:
        return hmac.new(self._search_key, normalise(value).encode(), hashlib.sha256).hexdigest()


def field_cipher(
    configured_keys: SecretStr | None, configured_search: SecretStr | None, state_dir: Path
) -> FieldCipher:
    """From settings, or keys generated once into the state folder (a single-machine install)."""
    folder = state_dir.expanduser()
    if configured_keys is not None:
        keys = [
            k.strip().encode() for k in configured_keys.get_secret_value().split(",") if k.strip()
        ]
    else:
        keys = kept_secret(folder / KEYS_FILE, Fernet.generate_key()).split()
    if configured_search is not None:
        search = configured_search.get_secret_value().encode()
    else:
        search = kept_secret(folder / SEARCH_KEY_FILE, secrets.token_urlsafe(48).encode())
    return FieldCipher(keys, search)
