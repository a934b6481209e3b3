"""Admission control: a bounded number of requests in progress, a short bounded wait for
the next few, the rest refused at once.

Past its capacity a service that queues every request only grows its latency until
callers time out; refusing the excess promptly (RESOURCE_EXHAUSTED / HTTP 429 with
Retry-After) keeps the accepted requests fast and tells the others when to come back.
By Little's law a limit of `throughput x latency budget` keeps the accepted ones within
the budget: e.g. 100 images/s with 0.04 s to spare admits about 4 at a time.

A small wait line in front of that limit separates a burst from an overload. Without
it, the ninth of eight concurrent callers is refused although a place frees within
milliseconds (at a steady 80% load, 4 in 1,600 were refused that way). With it, a
burst waits a moment while a real overload still fills the line and is refused at once;
a waiter that has not got a place within `max_wait_s` is refused too, so the line never
adds more than that to an accepted request's latency.

A line that overflows means an overload, not a burst, and then waiting only adds the
line's length to every accepted request's latency (under 3x overload on two cores a
line as long as the limit doubled the accepted p99). So for a second after an overflow
a waiter waits only as long as a place takes to free on average (the mean time a
request holds its place / the limit); the few that get one in that time are served,
the rest are refused.

Work that is not waited on by a person (the groups of a call of many images) asks with
`patient_s`: it waits behind every other request, outside the line (it neither fills nor
overflows it), for a place no one else wants, for up to `patient_s`. A person's request
still gets the next free place, and a large batch never causes a refusal of one.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import Counter, Gauge

from skinscan.errors import OverloadedError

__all__ = ["Admission"]

# How long an overflow of the wait line counts as an overload going on.
_OVERLOAD_MEMORY_S = 1.0
# Weight of the newest request in the mean time a place is held.
_WEIGHT = 0.05


class Admission:
    """At most `limit` requests inside `admit()` at once, then up to `max_waiting` waiting
    (first come, first served) for at most `max_wait_s`; beyond, OverloadedError.

    For one event loop: the counts are not shared across threads.
    """

    def __init__(
        self,
        limit: int,
        what: str,
        in_flight: Gauge,
        refused: Counter,
        retry_after_s: float = 1.0,
        max_waiting: int = 0,
        max_wait_s: float = 0.0,
    ) -> None:
        if limit < 1:
            raise ValueError("an admission limit must admit at least one request")
        if max_waiting < 0 or max_wait_s < 0:
            raise ValueError("an admission wait line cannot be negative")
        self.limit = limit
        self.what = what
        self.max_waiting = max_waiting if max_wait_s > 0 else 0
        self.max_wait_s = max_wait_s
        self._in_flight = in_flight
        self._refused = refused
        self._retry_after_s = retry_after_s
        self.current = 0
        # Each waiter's future is resolved when a leaving request hands it its place.
        self._waiters: deque[asyncio.Future[None]] = deque()
        # Patient waiters get a place only when no one in the line wants it.
        self._patient: deque[asyncio.Future[None]] = deque()
        self._overflowed_at = -_OVERLOAD_MEMORY_S
        self._mean_hold_s = 0.0  # exponentially weighted, over recent requests

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def _refuse(self, why: str) -> OverloadedError:
        self._refused.inc()
        return OverloadedError(why, self._retry_after_s)

    def check(self) -> None:
        """Raises OverloadedError if a request would be refused at once now; takes no place.
        For a front door that sheds load before spending anything else on it."""
        if self.current >= self.limit and len(self._waiters) >= self.max_waiting:
            if self.max_waiting:
                self._overflowed_at = time.monotonic()
            raise self._refuse(self._full())

    def _full(self) -> str:
        waiting = f" and {len(self._waiters)} waiting" if self.max_waiting else ""
        return f"{self.current} {self.what} in progress{waiting}, the most it takes at once"

    @asynccontextmanager
    async def admit(self, patient_s: float | None = None) -> AsyncIterator[None]:
        """Holds a place while inside. With `patient_s`, waits behind everyone else, up to that
        long, instead of joining the line (see the module's docstring)."""
        if self.current < self.limit and not self._waiters and not self._patient:
            self.current += 1
        elif patient_s is not None:
            await self._wait(self._patient, patient_s)
        else:
            self.check()
            await self._wait(self._waiters, self._wait_allowed_s())
        self._in_flight.inc()
        began = time.monotonic()
        try:
            yield
        finally:
            self._in_flight.dec()
            held = time.monotonic() - began
            self._mean_hold_s += _WEIGHT * (held - self._mean_hold_s)
            self._leave()

    def _wait_allowed_s(self) -> float:
        """max_wait_s, or while the line overflows, the mean time a place takes to free."""
        if time.monotonic() - self._overflowed_at > _OVERLOAD_MEMORY_S:
            return self.max_wait_s
        return min(self.max_wait_s, self._mean_hold_s / self.limit)

    async def _wait(self, waiters: deque[asyncio.Future[None]], allowed_s: float) -> None:
        """Waits in `waiters` for a place a leaving request hands over, up to `allowed_s`."""
        place: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters.append(place)
        try:
            async with asyncio.timeout(allowed_s):
                await asyncio.shield(place)
        except (TimeoutError, asyncio.CancelledError) as stopped:
            if place.done():
                # The place was handed over as the wait ended: keep it unless cancelled.
                if isinstance(stopped, TimeoutError):
                    return
                self._leave()
                raise
            waiters.remove(place)
            place.cancel()
            if isinstance(stopped, asyncio.CancelledError):
                raise
            raise self._refuse(
                f"{self.limit} {self.what} in progress and no place freed within {allowed_s:.2g} s"
            ) from None

    def _leave(self) -> None:
        """Gives a place back: to the longest waiter in the line if there is one, else to the
        longest patient one (the count stays)."""
        for waiters in (self._waiters, self._patient):
            while waiters:
                place = waiters.popleft()
                if not place.done():
                    place.set_result(None)
                    return
        self.current -= 1
