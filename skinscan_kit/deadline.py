"""The caller's deadline, carried from an incoming call to the calls it makes.

The server interceptor records how long the caller will wait; a client of the next
service asks `timeout_s()` for its call's timeout, so work whose caller has gone is
abandoned down the chain (each server cancels a call whose deadline passed) instead
of being finished for no one. Domain code never sees it.
"""

from __future__ import annotations

import time
from contextvars import ContextVar

__all__ = ["set_remaining", "timeout_s"]

# Monotonic time by which the caller of the current request wants its answer.
_deadline: ContextVar[float | None] = ContextVar("skinscan_deadline", default=None)

# A call is never given less than this: a deadline already passed still gets a
# (failing) call, so the refusal reads the same as any other deadline exceeded.
MIN_TIMEOUT_S = 0.001


def set_remaining(seconds: float | None) -> None:
    """The current request's caller waits `seconds` more (None: no deadline)."""
    _deadline.set(None if seconds is None else time.monotonic() + seconds)


def timeout_s(default_s: float) -> float:
    """The timeout for a call made now: `default_s`, cut to the caller's deadline."""
    deadline = _deadline.get()
    if deadline is None:
        return default_s
    return max(MIN_TIMEOUT_S, min(default_s, deadline - time.monotonic()))
