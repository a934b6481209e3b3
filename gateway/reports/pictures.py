"""Pictures of an analysis: the kept image for display, and its heat map in colour.

The heat map is a greyscale Grad-CAM at the model's input size covering a crop
square of the upright upload; here it is coloured (dark purple, through red, to
yellow) with transparency rising with attention, and placed over that square.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from skinscan.analysis import HeatMap
from skinscan_model.preprocessing import ImageLimits, decode_for_model

__all__ = ["DISPLAY_SIDE", "blend", "coloured_heatmap", "display_image", "encode", "overlay"]

# Plenty for a desk screen, light enough for a phone on a clinic's Wi-Fi.
DISPLAY_SIDE = 1280

# Anchors of an "inferno"-like ramp: readable on skin tones and in greyscale print.
_ANCHORS = np.array(
    [
        [0, 0, 4],
        [87, 16, 110],
        [188, 55, 84],
        [249, 142, 9],
        [252, 255, 164],
    ],
    dtype=np.float64,
)
_RAMP = np.stack(
    [
        np.interp(np.linspace(0, 1, 256), np.linspace(0, 1, len(_ANCHORS)), _ANCHORS[:, c])
        for c in range(3)
    ],
    axis=1,
).astype(np.uint8)


def display_image(data: bytes, side: int = DISPLAY_SIDE) -> tuple[Image.Image, tuple[int, int]]:
    """The upright upload in RGB, no larger than `side` on its longer side, and the
    upload's own (upright) size, in which a heat map's crop is measured.

    Decoded as for a model input of `side`: a large JPEG at a reduced scale, so a
    photograph of many megapixels is not decoded in full for a 1280-pixel view."""
    image, original = decode_for_model(data, side, ImageLimits())
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return image, original


def coloured_heatmap(heatmap: HeatMap) -> Image.Image:
    """The heat map as RGBA: colour by attention, more opaque where the model looked."""
    grey = np.asarray(Image.open(io.BytesIO(heatmap.png)).convert("L"))
    rgba = np.empty((*grey.shape, 4), dtype=np.uint8)
    rgba[..., :3] = _RAMP[grey]
    rgba[..., 3] = (np.sqrt(grey / 255.0) * 230).astype(np.uint8)
    return Image.fromarray(rgba, "RGBA")


def overlay(
    heatmap: HeatMap, original_size: tuple[int, int], shown_size: tuple[int, int]
) -> Image.Image:
    """A transparent RGBA picture of `shown_size` with the heat map over its crop square.

    `original_size` is the upright upload's, in which the crop is measured.
    """
    scale_x = shown_size[0] / original_size[0]
    scale_y = shown_size[1] / original_size[1]
    crop = heatmap.crop
    box = (
        round(crop.left * scale_x),
        round(crop.top * scale_y),
        max(1, round(crop.width * scale_x)),
        max(1, round(crop.height * scale_y)),
    )
    canvas = Image.new("RGBA", shown_size, (0, 0, 0, 0))
    patch = coloured_heatmap(heatmap).resize(box[2:], Image.Resampling.BILINEAR)
    canvas.paste(patch, box[:2])
    return canvas


def blend(image: Image.Image, heatmap: HeatMap, original_size: tuple[int, int]) -> Image.Image:
    """The image with the heat map laid over it (for print, where nothing can be toggled)."""
    layer = overlay(heatmap, original_size, image.size)
    return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")


def encode(image: Image.Image, kind: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    if kind == "JPEG":
        image.convert("RGB").save(buffer, "JPEG", quality=88)
    else:
        image.save(buffer, kind, optimize=True)
    return buffer.getvalue()
