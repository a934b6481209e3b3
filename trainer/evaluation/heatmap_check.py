"""Does the heat map look at the lesion? A check any reader can recompute, and a sheet to see it.

The lesion is found the simplest way that works on dermoscopy: it is darker
and more saturated than the skin around it, so the pixels whose darkness plus
saturation lies above Otsu's threshold for the image form its mask. The heat
map's peak is the set of pixels within 5% of its maximum; the map looks at the
lesion when most of its peak lies on the mask. A map with no peak at all (the
decided class has no evidence anywhere) does not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "PEAK_SHARE",
    "SHEET_IMAGES",
    "heatmap_report",
    "lesion_mask",
    "peak_on_lesion",
    "save_overlay_sheet",
]

PEAK_SHARE = 0.95  # pixels at or above this share of the map's maximum are its peak
SHEET_IMAGES = 16


def _otsu(values: np.ndarray, bins: int = 64) -> float:
    counts, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(counts)
    total = weight[-1]
    mean = np.cumsum(counts * centres)
    below, above = weight[:-1], total - weight[:-1]
    valid = (below > 0) & (above > 0)
    mean_below = np.where(valid, mean[:-1] / np.maximum(below, 1), 0)
    mean_above = np.where(valid, (mean[-1] - mean[:-1]) / np.maximum(above, 1), 0)
    between = np.where(valid, below * above * (mean_below - mean_above) ** 2, -1)
    return float(edges[1:][int(np.argmax(between))])


def lesion_mask(pixels: np.ndarray) -> np.ndarray:
    """(S, S, 3) uint8 -> (S, S) bool: the darker, more saturated region."""
    rgb = pixels.astype(np.float32) / 255.0
    value = rgb.max(axis=2)
    saturation = (value - rgb.min(axis=2)) / np.maximum(value, 1e-6)
    lesionness = (1.0 - value) + saturation
    return lesionness > _otsu(lesionness.ravel())


def peak_on_lesion(heatmap: np.ndarray, mask: np.ndarray) -> bool:
    peak_value = int(heatmap.max())
    if peak_value == 0:
        return False
    peak = heatmap >= PEAK_SHARE * peak_value
    return bool(mask[peak].mean() > 0.5)


def heatmap_report(pixels: np.ndarray, heatmaps: np.ndarray) -> dict[str, Any]:
    """The share of images whose heat-map peak lies on the lesion."""
    hits = [peak_on_lesion(h, lesion_mask(p)) for p, h in zip(pixels, heatmaps, strict=True)]
    return {
        "images": len(hits),
        "peak_on_lesion_rate": float(np.mean(hits)) if hits else float("nan"),
        "method": (
            f"lesion: darkness + saturation above Otsu's threshold; peak: pixels at >= "
            f"{PEAK_SHARE:.0%} of the map's maximum, on the lesion when most of them are"
        ),
    }


def save_overlay_sheet(pixels: np.ndarray, heatmaps: np.ndarray, path: Path) -> None:
    """A grid of images with their heat maps over them and the lesion mask's outline."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    count = min(SHEET_IMAGES, len(pixels))
    columns = 4
    rows = (count + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.2 * rows))
    for index, axis in enumerate(np.atleast_1d(axes).ravel()):
        axis.axis("off")
        if index >= count:
            continue
        mask = lesion_mask(pixels[index])
        axis.imshow(pixels[index])
        axis.imshow(heatmaps[index], cmap="jet", alpha=0.4, vmin=0, vmax=255)
        axis.contour(mask, levels=[0.5], colors="white", linewidths=0.6)
        hit = peak_on_lesion(heatmaps[index], mask)
        axis.set_title("peak on lesion" if hit else "peak off lesion", fontsize=7)
    figure.suptitle("Grad-CAM of the decided class (validation); white: lesion mask", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
