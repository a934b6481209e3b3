"""`skinscan analyze --heatmap DIR`: the upload with the model's heat map laid over it."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from skinscan import HeatMap
from skinscan_model.preprocessing import ImageLimits, decode_image

__all__ = ["write_overlay"]

# Dark blue (little evidence) through cyan and yellow to red (most), as 256 RGB entries.
_ANCHORS = np.array([[0, 0, 140], [0, 200, 255], [255, 230, 0], [230, 0, 0]], dtype=np.float64)
_COLOURS = np.stack(
    [np.interp(np.linspace(0, 3, 256), np.arange(4), _ANCHORS[:, c]) for c in range(3)], axis=1
).astype(np.uint8)
# Opacity at the hottest point; the upload stays visible under the map.
_MAX_OPACITY = 0.6


def write_overlay(upload: bytes, heatmap: HeatMap, path: Path) -> Path:
    """Writes the upright upload with `heatmap` over the square the model saw, as PNG."""
    image = decode_image(upload, ImageLimits())
    crop = heatmap.crop
    box = (
        round(crop.left),
        round(crop.top),
        round(crop.left + crop.width),
        round(crop.top + crop.height),
    )
    heat = Image.open(io.BytesIO(heatmap.png)).convert("L")
    heat = heat.resize((box[2] - box[0], box[3] - box[1]), Image.Resampling.BILINEAR)
    levels = np.asarray(heat)
    colours = Image.fromarray(_COLOURS[levels])
    opacity = Image.fromarray((levels * _MAX_OPACITY).astype(np.uint8))
    image.paste(colours, box[:2], mask=opacity)
    # Outline what the model saw, so nothing outside it is read as "looked at".
    ImageDraw.Draw(image).rectangle(
        box, outline=(255, 255, 255), width=max(1, min(image.size) // 200)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")
    return path
