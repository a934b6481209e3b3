"""The one mapping between domain errors and gRPC status codes, both ways.

Servers (skinscan_kit's interceptor) turn a raised error into a status; clients
(this SDK, and each service calling another) turn a failed call back into the
error, so a reason written for the end user travels unchanged to them.
"""

from __future__ import annotations

from typing import NoReturn

import grpc

from skinscan.errors import (
    InvalidImageError,
    InvalidRequestError,
    NotFoundError,
    SkinscanError,
    UnavailableError,
)

__all__ = ["raise_domain_error", "status_for"]


def status_for(error: SkinscanError) -> grpc.StatusCode:
    if isinstance(error, InvalidRequestError):
        return grpc.StatusCode.INVALID_ARGUMENT
    if isinstance(error, NotFoundError):
        return grpc.StatusCode.NOT_FOUND
    if isinstance(error, UnavailableError):
        return grpc.StatusCode.UNAVAILABLE
    return grpc.StatusCode.INTERNAL


def raise_domain_error(error: grpc.RpcError, upstream: str) -> NoReturn:
    """Re-raises a failed call to a skinscan service as a domain error.

    The upstream's reason is kept verbatim: it was written for the end user.
    """
    code = error.code()  # type: ignore[attr-defined]
    details = error.details() or code.name  # type: ignore[attr-defined]
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        raise InvalidImageError(details) from error
    if code == grpc.StatusCode.NOT_FOUND:
        raise NotFoundError(details) from error
    raise UnavailableError(f"the {upstream} service failed ({code.name}): {details}") from error
