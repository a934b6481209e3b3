"""The request id: one per analysis, carried across services, in every log line about it.

The gateway takes the caller's `x-request-id` (gRPC metadata or HTTP header) when
it is a sane token, else makes one; it is the `request_id` of the analysis the
caller gets back. Each call to the next service carries it as metadata, each
server's interceptor sets it for the call, and the log filter puts it on every
record, so one id finds a request's lines in every service's logs. A job's id is
its request id.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

__all__ = ["HEADER", "RequestIdFilter", "begin", "current", "metadata"]

HEADER = "x-request-id"
_current: ContextVar[str] = ContextVar("skinscan_request_id", default="")
# A caller's own id is kept only if it cannot smuggle anything into a log line.
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def begin(incoming: str | None = None) -> str:
    """Sets the current request's id: `incoming` if it is sane, else a new one."""
    request_id = incoming if incoming and _SANE.match(incoming) else uuid.uuid4().hex
    _current.set(request_id)
    return request_id


def current() -> str:
    """The current request's id; empty outside a request."""
    return _current.get()


def metadata() -> tuple[tuple[str, str], ...]:
    """gRPC metadata that carries the current request's id to the next service."""
    request_id = _current.get()
    return ((HEADER, request_id),) if request_id else ()


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get() or "-"
        return True
