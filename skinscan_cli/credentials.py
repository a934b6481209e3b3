"""The CLI's saved sign-in, and a Client that carries it.

`skinscan login` saves the tokens of a sign-in per gateway in
$XDG_CONFIG_HOME/skinscan/credentials.json (readable by its owner only);
later commands use and renew them. SKINSCAN_API_KEY, when set, wins.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from skinscan import Client, Tokens

__all__ = ["CredentialStore", "signed_in_client"]


def _default_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "skinscan" / "credentials.json"


class CredentialStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or _default_path()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = self.path.with_suffix(".partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(data, file, indent=2)
        os.replace(partial, self.path)

    def load(self, target: str) -> tuple[Tokens, float] | None:
        """The saved tokens for `target` and the seconds their access token has left."""
        saved = self._read().get(target)
        if not isinstance(saved, dict):
            return None
        try:
            tokens = Tokens(
                saved["access_token"], saved["refresh_token"], int(saved["expires_in_s"])
            )
            left = float(saved["expires_at"]) - time.time()
        except (KeyError, TypeError, ValueError):
            return None
        return tokens, left

    def save(self, target: str, tokens: Tokens, expires_at: float | None = None) -> None:
        data = self._read()
        data[target] = {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_in_s": tokens.expires_in_s,
            "expires_at": expires_at or time.time() + tokens.expires_in_s,
        }
        self._write(data)

    def forget(self, target: str) -> None:
        data = self._read()
        if data.pop(target, None) is not None:
            self._write(data)


@contextmanager
def signed_in_client(target: str, timeout_s: float) -> Iterator[Client]:
    """A Client with SKINSCAN_API_KEY or the saved sign-in; renewed tokens are saved back."""
    api_key = os.environ.get("SKINSCAN_API_KEY")
    store = CredentialStore()
    saved = None if api_key else store.load(target)
    with Client(target, timeout_s=timeout_s, api_key=api_key) as client:
        if saved is not None:
            client.use_tokens(*saved)
        before = client.tokens
        try:
            yield client
        finally:
            # A renewal spent the saved refresh token: keep the new one, or the
            # next command would present a used token and end the sign-in.
            if client.tokens is not None and client.tokens != before:
                store.save(target, client.tokens)
