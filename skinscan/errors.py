"""Typed errors: the SDK raises them, and every service's domain code too.

Domain code raises these and never touches gRPC or HTTP. One mapping per
transport turns them into status codes (skinscan.grpc_status for gRPC, used by
skinscan_kit's interceptor; gateway.rest.errors for REST); the message is shown
to the caller, so it must say what to do.
"""

from __future__ import annotations

__all__ = [
    "ConflictError",
    "ImageTooLargeError",
    "InvalidImageError",
    "InvalidRequestError",
    "ModelNotFoundError",
    "NotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "RateLimitedError",
    "SkinscanError",
    "UnauthenticatedError",
    "UnavailableError",
]


class SkinscanError(Exception):
    """Base of every error a caller may see, with a reason a person can act on."""


class InvalidRequestError(SkinscanError):
    """The request is malformed: fields missing, out of order, or of the wrong type."""


class InvalidImageError(InvalidRequestError):
    """The image cannot be analysed: not an image, truncated, too small, too many pixels."""


class ImageTooLargeError(InvalidImageError):
    """The upload has more bytes than the configured limit."""


class NotFoundError(SkinscanError):
    """The thing asked for (a job, a model) does not exist."""


class ModelNotFoundError(NotFoundError):
    """The model repository holds no usable model."""


class UnavailableError(SkinscanError):
    """A dependency (model, service, queue) cannot serve now; retrying later may work.

    `retry_after_s` is when to try again (gRPC's retry-after trailer, HTTP's Retry-After):
    a service restarting is back within seconds. `resendable`: whether the failure left
    nothing behind, so the same upload may be sent again by itself: true of a service that
    could not be reached or said it cannot serve now (UNAVAILABLE), not of one that failed
    midway (INTERNAL, UNKNOWN, a deadline that passed), where a job may already be queued.
    """

    def __init__(self, message: str, retry_after_s: float = 1.0, resendable: bool = True) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.resendable = resendable


class UnauthenticatedError(SkinscanError):
    """No credentials, or credentials that are not valid (expired, forged, revoked).

    The message never says which: that would help someone guessing.
    """

    def __init__(
        self, message: str = "sign in first: credentials are missing or not valid"
    ) -> None:
        super().__init__(message)


class PermissionDeniedError(SkinscanError):
    """Valid credentials, but their role or clinic may not do this."""

    def __init__(self, message: str = "your account may not do this") -> None:
        super().__init__(message)


class RateLimitedError(SkinscanError):
    """Too many requests or sign-in attempts; retry after `retry_after_s` seconds."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class OverloadedError(RateLimitedError):
    """A service is at capacity: refused at once rather than queued past its latency target.

    Maps like RateLimitedError (RESOURCE_EXHAUSTED / HTTP 429 with Retry-After), so
    clients back off the same way.
    """

    def __init__(self, what: str, retry_after_s: float = 1.0) -> None:
        super().__init__(
            f"skinscan is at capacity ({what}); nothing was analysed: "
            f"retry in {max(1, round(retry_after_s))} s",
            retry_after_s,
        )


class ConflictError(InvalidRequestError):
    """The request clashes with what exists (a user name taken, say)."""
