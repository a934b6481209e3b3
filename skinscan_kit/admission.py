"""Admission control: a bounded number of requests in progress, the rest refused at once.

Past its capacity a service that queues every request only grows its latency until
callers time out; refusing the excess promptly (RESOURCE_EXHAUSTED / HTTP 429 with
Retry-After) keeps the accepted requests fast and tells the others when to come back.
By Little's law a limit of `throughput x latency budget` keeps the accepted ones within
the budget: e.g. 100 images/s with 0.3 s to spare admits about 30 at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge

from skinscan.errors import OverloadedError

__all__ = ["Admission"]


class Admission:
    """At most `limit` requests inside `admit()` at once; the next raises OverloadedError.

    For one event loop: the count is not shared across threads.
    """

    def __init__(
        self,
        limit: int,
        what: str,
        in_flight: Gauge,
        refused: Counter,
        retry_after_s: float = 1.0,
    ) -> None:
        if limit < 1:
            raise ValueError("an admission limit must admit at least one request")
        self.limit = limit
        self.what = what
        self._in_flight = in_flight
        self._refused = refused
        self._retry_after_s = retry_after_s
        self.current = 0

    def check(self) -> None:
        """Raises OverloadedError if a request would be refused now; takes no place. For a
        front door that sheds load before spending anything else on it."""
        if self.current >= self.limit:
            self._refused.inc()
            raise OverloadedError(
                f"{self.current} {self.what} in progress, the most it takes at once",
                self._retry_after_s,
            )

    @contextmanager
    def admit(self) -> Iterator[None]:
        self.check()
        self.current += 1
        self._in_flight.inc()
        try:
            yield
        finally:
            self.current -= 1
            self._in_flight.dec()
