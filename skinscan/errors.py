"""Typed errors: the SDK raises them, and every service's domain code too.

Domain code raises these and never touches gRPC or HTTP. One mapping per
transport turns them into status codes (skinscan.grpc_status for gRPC, used by
skinscan_kit's interceptor; gateway.rest.errors for REST); the message is shown
to the caller, so it must say what to do.
"""

from __future__ import annotations

__all__ = [
    "ImageTooLargeError",
    "InvalidImageError",
    "InvalidRequestError",
    "ModelNotFoundError",
    "NotFoundError",
    "SkinscanError",
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
    """A dependency (model, service, queue) cannot serve now; retrying later may work."""
