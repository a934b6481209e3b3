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
from skinscan.v1 import analysis_pb2

__all__ = [
    "RETRY_AFTER_KEY",
    "cause_code",
    "error_for_status",
    "image_error_from_proto",
    "image_error_to_proto",
    "raise_domain_error",
    "status_for",
    "unimplemented",
]


def status_for(error: SkinscanError) -> grpc.StatusCode:
    if isinstance(error, ConflictError):
        return grpc.StatusCode.ALREADY_EXISTS
    if isinstance(error, InvalidRequestError):
        return grpc.StatusCode.INVALID_ARGUMENT
    if isinstance(error, NotFoundError):
        return grpc.StatusCode.NOT_FOUND
    if isinstance(error, UnavailableError):
        # A service behind that failed midway is passed on as such, so no caller further
        # up takes it for one it may simply send again.
        return grpc.StatusCode.UNAVAILABLE if error.resendable else grpc.StatusCode.INTERNAL
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
    raise error_for_status(code, details, upstream, _retry_after(error)) from error


def cause_code(error: BaseException) -> grpc.StatusCode | None:
    """The status of the failed call a domain error was raised from (raise_domain_error),
    or None when it was not raised from one."""
    cause = error.__cause__
    return cause.code() if isinstance(cause, grpc.RpcError) else None  # type: ignore[attr-defined]


def unimplemented(error: BaseException) -> bool:
    """Whether a domain error stands for a call the server does not have (an older one)."""
    return cause_code(error) == grpc.StatusCode.UNIMPLEMENTED


# What grpc.aio's client reports when the server ended a client-streaming call before the
# client had sent everything (an upload refused at the door: at capacity, no credentials,
# over the size limit), in place of the server's own status (grpc/grpc#36066, open in
# grpcio 1.7x). The server refused before reading the upload, so nothing was done.
_AIO_EARLY_END = "Internal error from Core"


def aio_early_end(error: grpc.RpcError) -> bool:
    """Whether a failed grpc.aio call reads as the server ending it while the client was still
    uploading (grpc/grpc#36066): the server's own status, whatever it was, is lost."""
    return (
        error.code() == grpc.StatusCode.INTERNAL  # type: ignore[attr-defined]
        and error.details() == _AIO_EARLY_END  # type: ignore[attr-defined]
    )


def error_for_status(
    code: grpc.StatusCode, details: str, upstream: str, retry_after_s: float = 1.0
) -> SkinscanError:
    """The domain error a status stands for (raise_domain_error's mapping)."""
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidImageError(details)
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFoundError(details)
    if code == grpc.StatusCode.ALREADY_EXISTS:
        return ConflictError(details)
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return UnauthenticatedError(details)
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return PermissionDeniedError(details)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return RateLimitedError(details, retry_after_s)
    return UnavailableError(
        f"the {upstream} service failed ({code.name}): {details}",
        retry_after_s,
        resendable=code == grpc.StatusCode.UNAVAILABLE
        or (code == grpc.StatusCode.INTERNAL and details == _AIO_EARLY_END),
    )


def image_error_to_proto(error: SkinscanError) -> analysis_pb2.ImageError:
    """One image's failure within a call for several, as its ImageError."""
    retry_after_s = getattr(error, "retry_after_s", 0.0)
    return analysis_pb2.ImageError(
        code=status_for(error).name, message=str(error), retry_after_s=retry_after_s
    )


def image_error_from_proto(message: analysis_pb2.ImageError, upstream: str) -> SkinscanError:
    """The domain error an ImageError stands for; an unknown code reads as UNAVAILABLE."""
    code = grpc.StatusCode.__members__.get(message.code, grpc.StatusCode.UNKNOWN)
    # Errors that were never a failed call keep their own words, not "the ... service failed".
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL):
        return UnavailableError(
            message.message,
            message.retry_after_s or 1.0,
            resendable=code == grpc.StatusCode.UNAVAILABLE,
        )
    return error_for_status(code, message.message, upstream, message.retry_after_s or 1.0)


def _retry_after(error: grpc.RpcError) -> float:
    trailers = error.trailing_metadata() or ()  # type: ignore[attr-defined]
    for key, value in trailers:
        if key == RETRY_AFTER_KEY:
            try:
                return float(value)
            except ValueError:
                break
    return 1.0
