"""The key that signs access tokens: from settings, or generated once into the state folder."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import SecretStr

from gateway.accounts.tokens import MIN_KEY_BYTES
from gateway.secret_files import kept_secret

__all__ = ["signing_key"]

KEY_FILE = "jwt-signing.key"


def signing_key(configured: SecretStr | None, state_dir: Path) -> bytes:
    """The configured key, or the one in `state_dir` (created, readable by its owner only)."""
    if configured is not None:
        key = configured.get_secret_value().encode()
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(
                f"SKINSCAN_JWT_SECRET must have at least {MIN_KEY_BYTES} bytes; "
                'generate one with: python -c "import secrets; print(secrets.token_urlsafe(48))"'
            )
        return key
    return kept_secret(state_dir / KEY_FILE, secrets.token_urlsafe(48).encode())
