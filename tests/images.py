"""Bad and good inputs built in memory for tests."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def png_bytes(width: int, height: int, color: tuple[int, int, int] = (120, 80, 60)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A valid PNG header announcing width x height RGB pixels, with almost no data.

    A decoder that trusted the header would allocate width*height*3 bytes (2.7 GB).
    """
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )
