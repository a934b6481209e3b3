"""The receiving end of a streamed image (skinscan.streaming sends it).

This is where an upload's size limit is enforced for gRPC, as the bytes
arrive: a header that declares too much, or a stream that passes the limit,
is refused at once instead of after it has been buffered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from skinscan.errors import (
    ImageTooLargeError,
    InvalidImageError,
    InvalidRequestError,
    SkinscanError,
)

__all__ = ["check_not_empty", "check_upload_size", "collect_upload", "collect_uploads"]


def check_upload_size(size: int, max_bytes: int, framing: int = 0) -> None:
    """Refuses an upload of `size` bytes (declared or received so far) past the limit.

    `framing` allows for bytes around the image that count in `size`, such as
    multipart boundaries when `size` is an HTTP body's Content-Length.
    """
    if size > max_bytes + framing:
        raise ImageTooLargeError(
            f"the upload has {size} bytes, more than the limit of {max_bytes}: "
            "send a smaller JPEG or PNG"
        )


def check_not_empty(size: int) -> None:
    if size == 0:
        raise InvalidImageError("the upload is empty: send a JPEG or PNG image")


async def collect_upload(
    messages: AsyncIterator[Any], header_field: str, max_bytes: int
) -> tuple[Any, bytes]:
    """Returns (header, image bytes) of a non-empty upload within `max_bytes`.

    `messages` have a oneof `payload` of `header_field` (first, once) and `chunk`.
    """
    header = None
    parts: list[bytes] = []
    size = 0
    async for message in messages:
        kind = message.WhichOneof("payload")
        if kind == header_field:
            if header is not None or parts:
                raise InvalidRequestError(f"send `{header_field}` once, as the first message")
            header = getattr(message, header_field)
            check_upload_size(_declared_size(header), max_bytes)
        elif kind == "chunk":
            if header is None:
                raise InvalidRequestError(
                    f"the first message must carry `{header_field}`, not a chunk"
                )
            size += len(message.chunk)
            check_upload_size(size, max_bytes)
            parts.append(message.chunk)
        else:
            raise InvalidRequestError("every message must carry either the header or a chunk")
    if header is None:
        raise InvalidRequestError(f"the stream was empty: send `{header_field}`, then the image")
    check_not_empty(size)
    return header, b"".join(parts)


async def collect_uploads(
    messages: AsyncIterator[Any], header_field: str, max_bytes: int, max_images: int
) -> AsyncIterator[tuple[Any, bytes | SkinscanError]]:
    """Yields (header, image bytes) for each image of a stream of several, as each completes.

    Each image is `header_field`, then its chunks, up to the next header. An image that
    declares or passes `max_bytes`, or is empty, comes as (header, the error) instead and
    the rest of its bytes are skipped: it fails alone. A stream that does not start with a
    header, or has more than `max_images`, is InvalidRequestError (the call fails).
    """
    header: Any = None
    parts: list[bytes] = []
    size, count = 0, 0
    refused: SkinscanError | None = None

    def finished() -> tuple[Any, bytes | SkinscanError]:
        if refused is not None:
            return header, refused
        try:
            check_not_empty(size)
        except InvalidImageError as empty:
            return header, empty
        return header, b"".join(parts)

    async for message in messages:
        kind = message.WhichOneof("payload")
        if kind == header_field:
            if header is not None:
                yield finished()
            count += 1
            if count > max_images:
                raise InvalidRequestError(
                    f"a call takes at most {max_images} images: send the rest in another call"
                )
            header, parts, size, refused = getattr(message, header_field), [], 0, None
            try:
                check_upload_size(_declared_size(header), max_bytes)
            except ImageTooLargeError as error:
                refused = error
        elif kind == "chunk":
            if header is None:
                raise InvalidRequestError(
                    f"the first message must carry `{header_field}`, not a chunk"
                )
            if refused is not None:
                continue
            size += len(message.chunk)
            try:
                check_upload_size(size, max_bytes)
            except ImageTooLargeError as error:
                refused, parts = error, []
                continue
            parts.append(message.chunk)
        else:
            raise InvalidRequestError("every message must carry either a header or a chunk")
    if header is None:
        raise InvalidRequestError(f"the stream was empty: send `{header_field}`, then an image")
    yield finished()


def _declared_size(header: Any) -> int:
    image = getattr(header, "image", header)
    return int(getattr(image, "size_bytes", 0))
