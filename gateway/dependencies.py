"""What the gateway depends on, as /healthz reports it: the preprocessor (or, when the gateway
preprocesses in its own process, inference), Redis, the database.

Synchronous analyses need only the preprocessor (or inference); jobs need Redis; accounts and
records need the database. The gateway keeps serving what it can while one is
down, so an outage reads as "degraded" with the dependency named, not as a
gateway that is gone. Checked at most once a second, each within a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Protocol

from gateway.database import Database
from skinscan_kit.job_queue import JobQueue

__all__ = ["Dependencies"]

_TIMEOUT_S = 1.0
_FRESH_S = 1.0


class SynchronousPath(Protocol):
    """Where synchronous analyses go: the preprocessor, or inference from this process."""

    dependency: str

    async def serving(self, timeout_s: float) -> bool: ...


class Dependencies:
    def __init__(
        self, synchronous: SynchronousPath, jobs: JobQueue | None, database: Database
    ) -> None:
        self._synchronous = synchronous
        self._jobs = jobs
        self._database = database
        self._last: tuple[float, dict[str, str]] | None = None

    async def report(self) -> dict[str, str]:
        """Each dependency: "ok", "unavailable", or "not configured" (Redis unset)."""
        if self._last is not None and time.monotonic() - self._last[0] < _FRESH_S:
            return self._last[1]
        synchronous, redis, database = await asyncio.gather(
            self._synchronous.serving(_TIMEOUT_S),
            self._answers(self._jobs.ping()) if self._jobs is not None else _none(),
            self._answers(self._database.ping()),
        )
        report = {
            self._synchronous.dependency: "ok" if synchronous else "unavailable",
            "redis": "not configured" if redis is None else "ok" if redis else "unavailable",
            "database": "ok" if database else "unavailable",
        }
        self._last = (time.monotonic(), report)
        return report

    @staticmethod
    async def _answers(check: Awaitable[None]) -> bool:
        try:
            await asyncio.wait_for(check, _TIMEOUT_S)
        except Exception:  # any failure to answer is "unavailable"; the reason is in its log
            return False
        return True


async def _none() -> None:
    return None
