"""Credentials checked against the database a moment ago, so a busy caller is not looked up
once per image.

An entry lives at most `ttl_s` seconds (and never past an access token's own expiry). A
revocation, a disabled user or a password change made through this gateway forgets the
caller's entries at once; one made through another gateway replica takes effect here within
`ttl_s`. Only successes are kept, and under a digest of the credential, never the secret.
"""

from __future__ import annotations

import hashlib
import time

from cachetools import TLRUCache

from gateway.accounts.roles import Principal

__all__ = ["VerifiedCredentials"]

MAX_ENTRIES = 10_000


class VerifiedCredentials:
    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        # ttu: each entry's own end, given when it is stored.
        self._entries: TLRUCache[bytes, tuple[Principal, float]] = TLRUCache(
            MAX_ENTRIES, ttu=lambda _key, value, _now: value[1], timer=time.monotonic
        )

    @staticmethod
    def _key(credential: str) -> bytes:
        return hashlib.sha256(credential.encode()).digest()

    def get(self, credential: str) -> Principal | None:
        if self.ttl_s <= 0:
            return None
        entry = self._entries.get(self._key(credential))
        return entry[0] if entry else None

    def put(self, credential: str, principal: Principal, valid_for_s: float | None = None) -> None:
        """Keeps `principal` for `credential`, at most ttl_s and at most `valid_for_s`."""
        lifetime = self.ttl_s if valid_for_s is None else min(self.ttl_s, valid_for_s)
        if lifetime > 0:
            self._entries[self._key(credential)] = (principal, time.monotonic() + lifetime)

    def forget(self, kind: str, subject_id: str) -> None:
        """Drops every entry of one user or API key: it was just revoked or changed."""
        stale = [
            key
            for key, (principal, _) in list(self._entries.items())
            if principal.kind == kind and principal.id == subject_id
        ]
        for key in stale:
            self._entries.pop(key, None)
