"""Samples and their decoding through the shared preprocessing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skinscan.errors import InvalidImageError
from skinscan_model.preprocessing import ImageLimits, load_model_input

__all__ = ["IMAGE_SUFFIXES", "DataError", "LabelledImages", "Sample", "decode"]

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


class DataError(ValueError):
    """The data set cannot be used as it is; the message names the file or folder."""


@dataclass(frozen=True)
class Sample:
    """One image: its file, its class index and its group (the lesion it shows).

    `diagnosis` indexes DIAGNOSIS_CODES where the source says (HAM10000), else -1.
    """

    path: Path
    label: int
    group: str
    diagnosis: int = -1
    # The institution that took it, where the source says (acral/'s nine), else "".
    institution: str = ""


@dataclass(frozen=True)
class LabelledImages:
    """Decoded pixels (N, S, S, 3) uint8, integer labels (N,) and diagnoses (N,; -1 unknown)."""

    pixels: np.ndarray
    labels: np.ndarray
    paths: tuple[Path, ...]
    diagnoses: np.ndarray

    @property
    def has_diagnoses(self) -> bool:
        return bool((self.diagnoses >= 0).any())

    def targets(self) -> np.ndarray:
        """What a two-headed network learns: (N, 2) of label and diagnosis."""
        return np.stack([self.labels, self.diagnoses], axis=1)


def decode(
    samples: list[Sample] | tuple[Sample, ...],
    size: int,
    limits: ImageLimits | None = None,
    workers: int = 4,
) -> LabelledImages:
    """Decodes every image exactly as the service will (skinscan_model.preprocessing)."""
    pixels = np.empty((len(samples), size, size, 3), dtype=np.uint8)

    def load(i: int) -> None:
        sample = samples[i]
        try:
            pixels[i] = load_model_input(sample.path.read_bytes(), size, limits)
        except (InvalidImageError, OSError) as error:
            raise DataError(f"{sample.path}: {error}") from error

    # Pillow releases the GIL while decoding and resizing, so threads scale.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(load, range(len(samples))))
    labels = np.array([s.label for s in samples], dtype=np.int64)
    diagnoses = np.array([s.diagnosis for s in samples], dtype=np.int64)
    return LabelledImages(pixels, labels, tuple(s.path for s in samples), diagnoses)
