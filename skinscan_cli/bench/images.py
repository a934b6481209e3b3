"""The images a benchmark sends: real dermoscopy JPEGs when the shared data is there,
generated JPEGs of the sizes cameras produce otherwise."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["BenchImages", "bench_images"]

# What a dermatoscope attachment, a phone and a DSLR send.
GENERATED_SIZES = ((224, 224), (1024, 768), (6000, 4000))


@dataclass(frozen=True)
class BenchImages:
    encoded: list[bytes]
    source: str  # where they came from, for the report


def _shared_folder() -> Path:
    configured = os.environ.get("SKINSCAN_SHARED_DATA")
    root = Path(configured) if configured else Path.cwd().parent / "shared" / "data"
    return root / "isic-binary" / "train"


def _generated(count: int, size: tuple[int, int], seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        # Smooth colour fields with grain: compresses like a photograph, not like noise.
        small = rng.integers(60, 200, (8, 8, 3), dtype=np.uint8)
        picture = Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)
        grain = rng.normal(0, 6, (size[1], size[0], 3))
        pixels = np.clip(np.asarray(picture, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
        images.append(buffer.getvalue())
    return images


def bench_images(count: int = 64, size: tuple[int, int] | None = None) -> BenchImages:
    """`count` real ISIC JPEGs if present (unless a `size` is asked for), else generated."""
    folder = _shared_folder()
    if size is None and folder.is_dir():
        every = sorted(folder.glob("*/*.jpg"))
        # Spread over the folder, so both classes are sent.
        paths = every[:: max(1, len(every) // count)]
        if paths:
            return BenchImages([p.read_bytes() for p in paths[:count]], f"ISIC JPEGs from {folder}")
    width, height = size or GENERATED_SIZES[0]
    return BenchImages(_generated(count, (width, height)), f"generated {width}x{height} JPEGs")
