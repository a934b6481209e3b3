"""Images go over gRPC as a stream: one header message, then chunks of bytes.

The SDK and the gateway (calling the preprocessor) send them this way; the
receiving side is skinscan_kit.uploads.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CHUNK_BYTES", "upload_messages"]

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
