"""Folder-per-class data sets, decoded once through the shared preprocessing."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skinscan.errors import InvalidImageError
from skinscan.preprocessing import ImageLimits, load_model_input

__all__ = ["DataError", "LabelledImages", "Sample", "load_folder_dataset", "stratified_split"]

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


class DataError(ValueError):
    """The data set cannot be used as it is; the message names the file or folder."""


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int


@dataclass(frozen=True)
class LabelledImages:
    """Decoded pixels (N, S, S, 3) uint8 and integer labels (N,)."""

    pixels: np.ndarray
    labels: np.ndarray
    paths: tuple[Path, ...]


def load_folder_dataset(root: Path) -> tuple[list[Sample], tuple[str, ...]]:
    """One sub-folder per class, named after the class; classes sorted by name."""
    if not root.is_dir():
        raise DataError(f"{root} is not a folder of class sub-folders")
    classes = tuple(
        sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    )
    if len(classes) < 2:
        raise DataError(f"{root} must hold one sub-folder per class, at least two; found {classes}")
    samples: list[Sample] = []
    for index, name in enumerate(classes):
        files = sorted(p for p in (root / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"class folder {root / name} holds no .jpg, .jpeg or .png image")
        samples.extend(Sample(path, index) for path in files)
    return samples, classes


def stratified_split(
    samples: list[Sample], validation_fraction: float, seed: int
) -> tuple[list[Sample], list[Sample]]:
    """Splits each class in the same proportion, reproducibly for a seed."""
    rng = random.Random(seed)
    train: list[Sample] = []
    validation: list[Sample] = []
    for label in sorted({s.label for s in samples}):
        group = [s for s in samples if s.label == label]
        rng.shuffle(group)
        cut = max(1, round(len(group) * validation_fraction)) if validation_fraction > 0 else 0
        validation.extend(group[:cut])
        train.extend(group[cut:])
    return train, validation


def decode(samples: list[Sample], size: int, limits: ImageLimits | None = None) -> LabelledImages:
    """Decodes every image exactly as the service will (skinscan.preprocessing)."""
    pixels = np.empty((len(samples), size, size, 3), dtype=np.uint8)
    for i, sample in enumerate(samples):
        try:
            pixels[i] = load_model_input(sample.path.read_bytes(), size, limits)
        except InvalidImageError as error:
            raise DataError(f"{sample.path}: {error}") from error
    labels = np.array([s.label for s in samples], dtype=np.int64)
    return LabelledImages(pixels, labels, tuple(s.path for s in samples))
