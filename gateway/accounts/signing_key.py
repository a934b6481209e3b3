"""The key that signs access tokens: from settings, or generated once into the state folder."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr

__all__ = ["MIN_KEY_BYTES", "signing_key"]

MIN_KEY_BYTES = 32
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
    path = state_dir.expanduser() / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two gateways starting together cannot both write one.
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()
