"""Reading an uploaded image from an HTTP form, within the size limit (REST and the web app)."""

from __future__ import annotations

from starlette.datastructures import UploadFile

from skinscan_kit.uploads import check_not_empty, check_upload_size

__all__ = ["MULTIPART_OVERHEAD", "read_image"]

# Multipart framing around the image: boundaries, headers, other small fields.
MULTIPART_OVERHEAD = 64 * 1024


async def read_image(upload: UploadFile, max_bytes: int) -> bytes:
    """The upload's bytes; ImageTooLargeError past `max_bytes`, InvalidImageError if empty.

    One byte more than the limit is read, so an upload that declared no size is
    still caught without buffering the rest of it.
    """
    data = await upload.read(max_bytes + 1)
    check_upload_size(upload.size or len(data), max_bytes)
    check_not_empty(len(data))
    return data
