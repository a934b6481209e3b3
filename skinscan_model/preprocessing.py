"""The one image preprocessing path, shared by the trainer and the preprocessor.

Training and serving must turn an encoded image into model input identically,
or the served model sees images unlike those it learned from. Both call
`load_model_input` (or its two steps, `decode_for_model` and `resize_and_crop`):
decode (JPEG or PNG; a large JPEG at a reduced scale), check, apply EXIF orientation,
convert to RGB, resize the shorter side to the model's size and centre-crop.
The result is uint8 HWC pixels; normalization to the network's float range is
part of the exported ONNX graph, so it too is identical by construction.
"""

from __future__ import annotations

import contextlib
import io
import math
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import simplejpeg
from PIL import Image, ImageOps, UnidentifiedImageError

from skinscan.errors import InvalidImageError

__all__ = [
    "ImageLimits",
    "crop_box",
    "decode_for_model",
    "decode_image",
    "load_model_input",
    "resize_and_crop",
]

ACCEPTED_FORMATS = ("JPEG", "PNG")


@dataclass(frozen=True)
class ImageLimits:
    """What a decoded image may be. (Its size in bytes is checked where it is received.)"""

    # 50 megapixels covers every dermatoscope camera we know of (~24 MP); the
    # check runs on the header, before any pixel is decoded, so a 30000x30000
    # "decompression bomb" costs nothing.
    max_pixels: int = 50_000_000
    # Below this the lesion has too little detail to classify; upsampling a
    # thumbnail would give a confident answer about interpolation artefacts.
    min_side: int = 32


# What Pillow raises for a damaged file, besides UnidentifiedImageError: OSError for
# most, ValueError for some (a PNG's truncated IHDR: found by fuzzing), SyntaxError,
# EOFError and struct.error from its header parsers.
_DAMAGED = (OSError, ValueError, SyntaxError, EOFError, struct.error)


@contextlib.contextmanager
def _pillow_warnings_handled() -> Iterator[None]:
    with warnings.catch_warnings():
        # Pillow warns (and past 2x its own limit raises) for huge images; our own
        # limit is the one that decides.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        # Damaged EXIF (found by fuzzing: "Corrupt EXIF data", "Truncated File Read"):
        # Pillow's EXIF reader warns and keeps what it could read; the pixels are
        # still the image, analysed as stored.
        warnings.filterwarnings("ignore", category=UserWarning, module="PIL.TiffImagePlugin")
        yield


def _open_checked(data: bytes, limits: ImageLimits) -> Image.Image:
    """Opens an encoded image and checks its header; no pixel is decoded yet."""
    if not data:
        raise InvalidImageError("the upload is empty: send a JPEG or PNG image")
    try:
        with _pillow_warnings_handled():
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as error:
        raise InvalidImageError(f"the image has too many pixels: {error}") from error
    except (UnidentifiedImageError, *_DAMAGED) as error:
        raise InvalidImageError(
            "the upload is not a JPEG or PNG image (or its header is corrupt)"
        ) from error
    width, height = image.size
    if width * height > limits.max_pixels:
        raise InvalidImageError(
            f"the image has {width}x{height} = {width * height} pixels, more than the limit "
            f"of {limits.max_pixels}: downscale it before uploading"
        )
    if min(width, height) < limits.min_side:
        raise InvalidImageError(
            f"the image is {width}x{height} pixels, too small to analyse: each side must be "
            f"at least {limits.min_side} pixels"
        )
    return image


def _upright_rgb(image: Image.Image) -> Image.Image:
    """Decodes the pixels, applies the EXIF orientation and converts to 8-bit RGB."""
    try:
        with _pillow_warnings_handled():
            image.load()
            upright = ImageOps.exif_transpose(image)
    except _DAMAGED as error:
        raise InvalidImageError(
            f"the {image.format} image is truncated or corrupt ({error}): upload the file again"
        ) from error
    return _to_rgb(upright)


def decode_image(data: bytes, limits: ImageLimits) -> Image.Image:
    """Decodes and checks an encoded image at full size; returns it upright, in RGB."""
    return _upright_rgb(_open_checked(data, limits))


def decode_for_model(
    data: bytes, size: int, limits: ImageLimits
) -> tuple[Image.Image, tuple[int, int]]:
    """Decodes an image for a model input of `size`; also answers the upload's own upright size.

    A JPEG at least twice `size` on its shorter side is decoded at 1/2, 1/4 or
    1/8 scale in the DCT domain (libjpeg-turbo's scaling), never below `size`:
    a 24-megapixel photograph costs tens of milliseconds instead of a few
    hundred, and the resize that follows averages the same pixels either way.
    Pillow's draft mode picks the scale; simplejpeg decodes the JPEG (libjpeg-turbo
    straight into an array, without Pillow's per-image overhead; the same pixels bit
    for bit). The full size is what a crop box is measured in.
    """
    image = _open_checked(data, limits)
    width, height = image.size
    if image.format == "JPEG":
        if min(width, height) >= 2 * size:
            scale = size / min(width, height)
            image.draft(image.mode, (math.ceil(width * scale), math.ceil(height * scale)))
        image = _turbo_decode(data, image) or image
    upright = _upright_rgb(image)
    # EXIF may have turned the image a quarter: the full size turns with it.
    turned = (upright.width > upright.height) != (width > height) and width != height
    return upright, ((height, width) if turned else (width, height))


def _turbo_decode(data: bytes, header: Image.Image) -> Image.Image | None:
    """The JPEG's pixels at `header`'s (possibly drafted) size, decoded by simplejpeg, with
    the header's metadata (EXIF orientation) kept; None when simplejpeg cannot give exactly
    what Pillow would (CMYK, damaged data), so Pillow decodes it, and words its errors."""
    if header.mode not in ("RGB", "L"):
        return None
    width, height = header.size
    try:
        pixels = simplejpeg.decode_jpeg(
            data,
            colorspace="RGB" if header.mode == "RGB" else "GRAY",
            min_width=width,
            min_height=height,
        )
    except ValueError:
        return None
    if pixels.shape[:2] != (height, width):
        return None
    decoded = Image.fromarray(pixels if header.mode == "RGB" else pixels[:, :, 0])
    decoded.info.update(header.info)
    return decoded


# Pillow's modes for 16-bit greyscale (PNG decodes to "I;16"; "I" holds 32-bit ints).
_WIDE_GREY_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def _to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB. 16-bit greyscale is scaled down, not clipped as Pillow's convert() does
    (which turns every value above 255, nearly the whole image, white)."""
    if image.mode in _WIDE_GREY_MODES:
        wide = np.asarray(image, dtype=np.int64).clip(0, 65535)
        image = Image.fromarray((wide >> 8).astype(np.uint8))
    return image.convert("RGB")


def resize_and_crop(image: Image.Image, size: int) -> np.ndarray:
    """Resizes the shorter side to `size` and centre-crops a `size`x`size` square.

    Cropping rather than squashing keeps the lesion's shape, which matters to
    its diagnosis (asymmetry and border are ABCD criteria).
    """
    new_size, left, top = _resize_plan(*image.size, size)
    resized = image.resize(new_size, Image.Resampling.BICUBIC, reducing_gap=3.0)
    cropped = resized.crop((left, top, left + size, top + size))
    return np.asarray(cropped, dtype=np.uint8)


def _resize_plan(width: int, height: int, size: int) -> tuple[tuple[int, int], int, int]:
    """The resized image's size and the crop's top-left corner in it."""
    scale = size / min(width, height)
    new_size = (max(size, round(width * scale)), max(size, round(height * scale)))
    return new_size, (new_size[0] - size) // 2, (new_size[1] - size) // 2


def crop_box(width: int, height: int, size: int) -> tuple[float, float, float, float]:
    """Where `resize_and_crop`'s square lies in the upright image: left, top, width, height.

    So anything drawn on the model's input (a heat map) can be laid over the upload.
    """
    (new_width, new_height), left, top = _resize_plan(width, height, size)
    scale_x, scale_y = width / new_width, height / new_height
    return left * scale_x, top * scale_y, size * scale_x, size * scale_y


def load_model_input(data: bytes, size: int, limits: ImageLimits | None = None) -> np.ndarray:
    """Encoded image bytes -> uint8 pixels of shape (size, size, 3), as the model expects."""
    image, _ = decode_for_model(data, size, limits or ImageLimits())
    return resize_and_crop(image, size)
