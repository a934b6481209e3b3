"""Images go over gRPC as a stream: one header message, then chunks of bytes.

The SDK and the gateway (calling the preprocessor) send them this way; the
receiving side is skinscan_kit.uploads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from skinscan.v1 import analysis_pb2

__all__ = ["CHUNK_BYTES", "image_upload", "read_image", "upload_messages"]

# Well under gRPC's 4 MB message limit, large enough that per-message overhead vanishes.
CHUNK_BYTES = 1024 * 1024


def upload_messages(
    message_type: type[Any], header_field: str, header: Any, data: bytes
) -> list[Any]:
    """`header_field` first, then `data` in chunks of at most CHUNK_BYTES."""
    messages = [message_type(**{header_field: header})]
    messages += [
        message_type(chunk=data[i : i + CHUNK_BYTES]) for i in range(0, len(data), CHUNK_BYTES)
    ]
    return messages


def read_image(image: str | Path | bytes, filename: str = "") -> tuple[bytes, str]:
    """The image's bytes and the name to send: a path's own name unless `filename` is given."""
    if isinstance(image, bytes):
        return image, filename
    path = Path(image)
    return path.read_bytes(), filename or path.name


def image_upload(
    message_type: type[Any], image: str | Path | bytes, filename: str = ""
) -> list[Any]:
    """The messages of an Analyze or SubmitJob stream for one image."""
    data, name = read_image(image, filename)
    metadata = analysis_pb2.ImageMetadata(filename=name, size_bytes=len(data))
    return upload_messages(message_type, "metadata", metadata, data)
