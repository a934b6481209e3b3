"""Reassembles an image streamed as a header message followed by byte chunks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from skinscan.errors import ImageTooLargeError, InvalidRequestError

__all__ = ["CHUNK_BYTES", "collect_upload", "upload_messages"]

# Well under gRPC's 4 MB message limit, large enough that per-message overhead vanishes.
CHUNK_BYTES = 1024 * 1024


def upload_messages(
    message_type: type[Any], header_field: str, header: Any, data: bytes
) -> list[Any]:
    """The stream `collect_upload` reads: `header_field` first, then chunks of `data`."""
    messages = [message_type(**{header_field: header})]
    messages += [
        message_type(chunk=data[i : i + CHUNK_BYTES]) for i in range(0, len(data), CHUNK_BYTES)
    ]
    return messages


async def collect_upload(
    messages: AsyncIterator[Any], header_field: str, max_bytes: int
) -> tuple[Any, bytes]:
    """Returns (header, image bytes); refuses an upload past `max_bytes` as soon as it shows.

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
            declared = _declared_size(header)
            if declared > max_bytes:
                raise ImageTooLargeError(
                    f"the upload is {declared} bytes, more than the limit of {max_bytes}"
                )
        elif kind == "chunk":
            if header is None:
                raise InvalidRequestError(
                    f"the first message must carry `{header_field}`, not a chunk"
                )
            size += len(message.chunk)
            if size > max_bytes:
                raise ImageTooLargeError(
                    f"the upload passed {max_bytes} bytes, the limit: send a smaller image"
                )
            parts.append(message.chunk)
        else:
            raise InvalidRequestError("every message must carry either the header or a chunk")
    if header is None:
        raise InvalidRequestError(f"the stream was empty: send `{header_field}`, then the image")
    return header, b"".join(parts)


def _declared_size(header: Any) -> int:
    image = getattr(header, "image", header)
    return int(getattr(image, "size_bytes", 0))
