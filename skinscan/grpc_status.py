"""The one mapping between domain errors and gRPC status codes, both ways.

Servers (skinscan_kit's interceptor) turn a raised error into a status; clients
(this SDK, and each service calling another) turn a failed call back into the
error, so a reason written for the end user travels unchanged to them.
"""

from __future__ import annotations

from typing import NoReturn

import grpc

from skinscan.errors import (
    ConflictError,
    InvalidImageError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    SkinscanError,
    UnauthenticatedError,
    UnavailableError,
)

__all__ = ["RETRY_AFTER_KEY", "raise_domain_error", "status_for"]


def status_for(error: SkinscanError) -> grpc.StatusCode:
    if isinstance(error, ConflictError):
        return grpc.StatusCode.ALREADY_EXISTS
    if isinstance(error, InvalidRequestError):
        return grpc.StatusCode.INVALID_ARGUMENT
    if isinstance(error, NotFoundError):
        return grpc.StatusCode.NOT_FOUND
    if isinstance(error, UnavailableError):
        return grpc.StatusCode.UNAVAILABLE
    if isinstance(error, UnauthenticatedError):
        return grpc.StatusCode.UNAUTHENTICATED
    if isinstance(error, PermissionDeniedError):
        return grpc.StatusCode.PERMISSION_DENIED
    if isinstance(error, RateLimitedError):
        return grpc.StatusCode.RESOURCE_EXHAUSTED
    return grpc.StatusCode.INTERNAL


# Trailing metadata that says when to retry a RESOURCE_EXHAUSTED or UNAVAILABLE
# call, in whole seconds as HTTP's Retry-After.
RETRY_AFTER_KEY = "retry-after"


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
    if code == grpc.StatusCode.ALREADY_EXISTS:
        raise ConflictError(details) from error
    if code == grpc.StatusCode.UNAUTHENTICATED:
        raise UnauthenticatedError(details) from error
    if code == grpc.StatusCode.PERMISSION_DENIED:
        raise PermissionDeniedError(details) from error
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        raise RateLimitedError(details, _retry_after(error)) from error
    raise UnavailableError(
        f"the {upstream} service failed ({code.name}): {details}", _retry_after(error)
    ) from error


def _retry_after(error: grpc.RpcError) -> float:
    trailers = error.trailing_metadata() or ()  # type: ignore[attr-defined]
    for key, value in trailers:
        if key == RETRY_AFTER_KEY:
            try:
                return float(value)
            except ValueError:
                break
    return 1.0
