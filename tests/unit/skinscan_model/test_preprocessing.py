from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from skinscan.errors import InvalidImageError
from skinscan_model import preprocessing
from skinscan_model.preprocessing import (
    ImageLimits,
    crop_box,
    decode_for_model,
    decode_image,
    load_model_input,
    resize_and_crop,
)
from tests.images import png_bytes, png_header_bomb


def test_real_dermoscopy_jpeg_becomes_model_input(malignant_jpeg: Path) -> None:
    pixels = load_model_input(malignant_jpeg.read_bytes(), 64)
    assert pixels.shape == (64, 64, 3)
    assert pixels.dtype == np.uint8
    assert 20 < pixels.mean() < 235  # a real image, not a blank


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"hello, this is text" * 20, "not a JPEG or PNG"),
        (png_header_bomb(), "too many pixels"),
        (png_bytes(10, 300), "too small"),
    ],
)
def test_bad_images_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidImageError, match=reason):
        decode_image(data, ImageLimits())


def test_truncated_jpeg_is_refused(malignant_jpeg: Path) -> None:
    with pytest.raises(InvalidImageError, match="truncated"):
        decode_image(malignant_jpeg.read_bytes()[:3000], ImageLimits())


def test_bomb_header_is_refused_without_decoding_far_past_pillows_own_limit() -> None:
    with pytest.raises(InvalidImageError, match="pixels"):
        decode_image(png_header_bomb(100_000, 100_000), ImageLimits())


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (80, 40), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 40, 40))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif, quality=95)
    upright = decode_image(buffer.getvalue(), ImageLimits())
    assert upright.size == (40, 80)
    top = np.asarray(upright)[:20].mean(axis=(0, 1))
    assert top[2] > 150 and top[0] < 100  # the blue half is now on top


def test_resize_keeps_aspect_and_crops_the_centre() -> None:
    image = Image.new("RGB", (300, 100), (0, 0, 0))
    image.paste((255, 255, 255), (100, 0, 200, 100))  # white centre square
    pixels = resize_and_crop(image, 50)
    assert pixels.shape == (50, 50, 3)
    assert pixels.mean() > 250


def test_grayscale_and_rgba_become_rgb() -> None:
    for mode in ("L", "RGBA", "P"):
        buffer = io.BytesIO()
        Image.new(mode, (64, 64)).save(buffer, format="PNG")
        assert load_model_input(buffer.getvalue(), 32).shape == (32, 32, 3)


def test_a_16_bit_greyscale_png_keeps_its_tones() -> None:
    ramp = np.linspace(0, 65535, 256 * 64).reshape(64, 256).astype(np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(ramp).save(buffer, format="PNG")
    decoded = np.asarray(decode_image(buffer.getvalue(), ImageLimits()))
    assert decoded.shape == (64, 256, 3)
    # The 8 high bits of each value, the same in every channel; not a white sheet.
    np.testing.assert_array_equal(decoded[..., 0], (ramp >> 8).astype(np.uint8))
    assert (decoded[..., 0] == decoded[..., 2]).all()
    assert 120 < decoded.mean() < 136


@pytest.mark.parametrize("shape", [(300, 100), (100, 300), (640, 480), (224, 224)])
def test_the_crop_box_is_where_the_model_input_came_from(shape: tuple[int, int]) -> None:
    width, height = shape
    # A gradient image: each pixel's value says where it is.
    x = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height)[:, None].repeat(width, 1)
    image = Image.fromarray(np.stack([x, y, np.zeros_like(x)], axis=2).astype(np.uint8))
    left, top, box_width, box_height = crop_box(width, height, 64)
    assert box_width == pytest.approx(box_height, rel=0.02)
    expected = image.crop(
        (round(left), round(top), round(left + box_width), round(top + box_height))
    ).resize((64, 64), Image.Resampling.BICUBIC)
    difference = np.abs(resize_and_crop(image, 64).astype(int) - np.asarray(expected, int))
    assert difference.mean() < 3


def _large_jpeg(source: Path, size: tuple[int, int], orientation: int | None = None) -> bytes:
    picture = Image.open(source).convert("RGB").resize(size, Image.Resampling.BICUBIC)
    return _jpeg(picture, orientation, quality=95)


def test_a_large_jpeg_is_decoded_reduced_yet_gives_the_same_model_input(
    malignant_jpeg: Path,
) -> None:
    # 1600x1200 with EXIF orientation 6: upright it is 1200x1600.
    data = _large_jpeg(malignant_jpeg, (1600, 1200), orientation=6)
    image, full_size = decode_for_model(data, 128, ImageLimits())
    assert full_size == (1200, 1600)
    # Decoded at 1/8 scale (150x200 upright): never below the model's size.
    assert image.size == (150, 200) and min(image.size) >= 128
    reduced = resize_and_crop(image, 128)
    full = resize_and_crop(decode_image(data, ImageLimits()), 128)
    assert np.abs(reduced.astype(int) - full.astype(int)).mean() < 2.0
    # The crop is measured in the upload's own pixels, whatever was decoded.
    assert crop_box(*full_size, 128) == pytest.approx((0.0, 200.0, 1200.0, 1200.0), abs=4)


def test_small_images_and_pngs_are_decoded_in_full(malignant_jpeg: Path) -> None:
    small, size = decode_for_model(malignant_jpeg.read_bytes(), 128, ImageLimits())
    assert small.size == size
    png = png_bytes(1024, 768)
    image, size = decode_for_model(png, 128, ImageLimits())
    assert image.size == size == (1024, 768)


def _jpeg(picture: Image.Image, orientation: int | None = None, quality: int = 90) -> bytes:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=quality, exif=exif.tobytes())
    return buffer.getvalue()


def _pillow_only(data: bytes, size: int, monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    with monkeypatch.context() as patched:
        patched.setattr(preprocessing, "_turbo_decode", lambda data, header: None)
        return load_model_input(data, size)


@pytest.mark.parametrize(
    ("shape", "mode", "orientation"),
    [
        ((224, 224), "RGB", None),  # a dermatoscope's own size: decoded in full
        ((1600, 1200), "RGB", 6),  # a phone's, turned by EXIF: decoded at 1/8
        ((700, 500), "RGB", 3),  # decoded at 1/2
        ((300, 260), "L", None),  # greyscale
    ],
)
def test_simplejpeg_gives_the_pixels_pillow_gives(
    malignant_jpeg: Path,
    monkeypatch: pytest.MonkeyPatch,
    shape: tuple[int, int],
    mode: str,
    orientation: int | None,
) -> None:
    """The faster decoder changes no pixel of any model input: models trained on Pillow's
    decoding are served the same input."""
    picture = Image.open(malignant_jpeg).convert(mode).resize(shape, Image.Resampling.BICUBIC)
    data = _jpeg(picture, orientation)
    header = Image.open(io.BytesIO(data))
    assert preprocessing._turbo_decode(data, header) is not None  # simplejpeg did decode it
    assert np.array_equal(load_model_input(data, 128), _pillow_only(data, 128, monkeypatch))


def test_a_cmyk_or_damaged_jpeg_falls_back_to_pillow(malignant_jpeg: Path) -> None:
    cmyk = _jpeg(Image.open(malignant_jpeg).convert("CMYK"))
    assert preprocessing._turbo_decode(cmyk, Image.open(io.BytesIO(cmyk))) is None
    assert load_model_input(cmyk, 64).shape == (64, 64, 3)
    damaged = malignant_jpeg.read_bytes()[:-400]
    assert preprocessing._turbo_decode(damaged, Image.open(io.BytesIO(damaged))) is None
    with pytest.raises(InvalidImageError, match="truncated or corrupt"):
        load_model_input(damaged, 64)
