"""Fuzzing the decode path every upload takes: 10,000 mutated files, one outcome each.

Seeds are real encodings of many kinds (baseline and progressive JPEG, EXIF-turned,
greyscale, CMYK; PNG in every colour type and 16-bit; formats we refuse:
TIFF, WebP, GIF, BMP, HEIC-named JPEG; decompression bombs), mutated by flipping,
overwriting, cutting, inserting and repeating bytes. Each must give the model's
input exactly as served, or InvalidImageError with its reason, quickly; any other
exception or a hang is a failure. Hypothesis draws them deterministically (the
same 10,000 in every run), so a failure reproduces.
"""

from __future__ import annotations

import io
import struct
import time
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from skinscan.errors import InvalidImageError
from skinscan_model.preprocessing import ImageLimits, crop_box, decode_for_model, resize_and_crop
from skinscan_model.quality import measure
from tests.images import png_header_bomb

SIZE = 64
EXAMPLES = 10_000
LIMITS = ImageLimits()


def _encoded(image: Image.Image, format: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def _jpeg_header_bomb() -> bytes:
    """A JPEG whose frame header announces 65000x65000 pixels."""
    small = _encoded(Image.new("RGB", (40, 40), (90, 60, 50)), "JPEG")
    at = small.index(b"\xff\xc0") + 5  # SOF0: length(2) precision(1) height(2) width(2)
    return small[:at] + struct.pack(">HH", 65000, 65000) + small[at + 4 :]


def _seeds() -> list[bytes]:
    rng = np.random.default_rng(3)
    lesion = rng.integers(40, 220, (96, 128, 3), dtype=np.uint8)
    rgb = Image.fromarray(lesion)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turned a quarter
    return [
        _encoded(rgb, "JPEG", quality=90),
        _encoded(rgb, "JPEG", quality=75, progressive=True),
        _encoded(rgb, "JPEG", exif=exif.tobytes()),
        _encoded(rgb.convert("L"), "JPEG"),
        _encoded(rgb.convert("CMYK"), "JPEG"),
        _encoded(rgb, "PNG"),
        _encoded(rgb.convert("RGBA"), "PNG"),
        _encoded(rgb.convert("P"), "PNG"),
        _encoded(rgb.convert("L"), "PNG", optimize=True),
        _encoded(Image.fromarray(lesion[:, :, 0].astype(np.uint16) * 257), "PNG"),
        _encoded(rgb.convert("LA"), "PNG"),
        _encoded(rgb, "TIFF"),
        _encoded(rgb, "WEBP"),
        _encoded(rgb, "GIF"),
        _encoded(rgb, "BMP"),
        png_header_bomb(),
        _jpeg_header_bomb(),
        b"",
        b"\xff\xd8\xff",  # a JPEG's first bytes, and nothing else
    ]


SEEDS = _seeds()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 4))):
        where = draw(st.integers(0, max(0, len(data) - 1)))
        kind = draw(st.sampled_from(["flip", "set", "cut", "insert", "repeat", "zero"]))
        if kind == "flip" and data:
            data[where] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[where] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[where:]
        elif kind == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "repeat":
            length = draw(st.integers(1, 256))
            data[where:where] = data[where : where + length]
        elif kind == "zero":
            length = draw(st.integers(1, 64))
            data[where : where + length] = bytes(len(data[where : where + length]))
    return bytes(data)


def _prepare(data: bytes) -> np.ndarray:
    """What the preprocessor does with an upload before inference."""
    image, full_size = decode_for_model(data, SIZE, LIMITS)
    pixels = resize_and_crop(image, SIZE)
    measure(pixels, short_side=min(full_size))
    crop_box(*full_size, SIZE)
    return pixels


OUTCOMES = {"decoded": 0, "refused": 0}
SLOWEST = [0.0]


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated())
def _decoded_or_refused(data: bytes) -> None:
    started = time.perf_counter()
    try:
        pixels = _prepare(data)
    except InvalidImageError as refused:
        assert str(refused)
        OUTCOMES["refused"] += 1
    else:
        assert pixels.shape == (SIZE, SIZE, 3) and pixels.dtype == np.uint8
        OUTCOMES["decoded"] += 1
    SLOWEST[0] = max(SLOWEST[0], time.perf_counter() - started)
    assert time.perf_counter() - started < 5.0, "no input may take this long"


def test_every_mutated_upload_is_decoded_or_refused_with_a_reason() -> None:
    _decoded_or_refused()
    print(f"fuzzed decoding: {OUTCOMES}, slowest {SLOWEST[0] * 1000:.0f} ms")
    # A fuzzer that only ever hit one branch would prove little.
    assert sum(OUTCOMES.values()) >= EXAMPLES
    assert OUTCOMES["decoded"] >= 1000 and OUTCOMES["refused"] >= 1000
