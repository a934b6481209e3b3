"""Images go over gRPC as a stream: one header message, then chunks of bytes.

The SDK and the gateway (calling the preprocessor) send them this way; the
receiving side is skinscan_kit.uploads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from skinscan.v1 import analysis_pb2, analysis_service_pb2

__all__ = [
    "CHUNK_BYTES",
    "ONE_MESSAGE_BYTES",
    "analyze_requests",
    "image_upload",
    "read_image",
    "upload_messages",
]

# Well under gRPC's 4 MB message limit, large enough that per-message overhead vanishes.
CHUNK_BYTES = 1024 * 1024
# An image up to this size goes in one message instead (AnalyzeImage, ClassifyImage),
# under gRPC's default 4 MiB limit with room for the rest of the message: a call of one
# message costs both sides less than a stream (0.3-0.6 CPU-ms an image in the gateway,
# 0.5 in the preprocessor, measured: README, Performance, docs/serving-profile.md).
ONE_MESSAGE_BYTES = 3 * 1024 * 1024


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


def analyze_requests(data: bytes, name: str, one_message: bool) -> tuple[str, Any]:
    """The method and request(s) of an analysis of `data`: AnalyzeImage with one message
    when it fits and `one_message` (the gateway has AnalyzeImage), else an Analyze stream."""
    metadata = analysis_pb2.ImageMetadata(filename=name, size_bytes=len(data))
    if one_message and len(data) <= ONE_MESSAGE_BYTES:
        return "AnalyzeImage", analysis_service_pb2.AnalyzeImageRequest(
            metadata=metadata, image=data
        )
    return "Analyze", upload_messages(
        analysis_service_pb2.AnalyzeRequest, "metadata", metadata, data
    )
