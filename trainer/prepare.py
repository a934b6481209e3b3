"""A data set made ready to train on: loaded, near-duplicates joined, split by lesion group."""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.data import decode
from trainer.datasets import Dataset, load_dataset
from trainer.splits import (
    Split,
    grouped_split,
    merge_near_duplicates,
    near_duplicate_pairs,
    perceptual_hashes,
)

__all__ = ["PreparedData", "prepare"]

HASH_SIZE = 64  # images are hashed at this size, whatever size the model trains at


@dataclass(frozen=True)
class PreparedData:
    dataset: Dataset
    split: Split
    groups: list[str]
    hashes: np.ndarray

    def write_split(self, path: Path) -> None:
        """The split as CSV, paths relative to the data root, so `skinscan evaluate --split` can reuse it."""
        parts = self.split.part_of()
        root = self.dataset.root
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "label", "group", "split"])
            for index, sample in enumerate(self.dataset.samples):
                writer.writerow(
                    [
                        sample.path.relative_to(root).as_posix(),
                        self.dataset.classes[sample.label],
                        self.groups[index],
                        parts[index],
                    ]
                )


def prepare(
    data: Path, labels: str, validation_fraction: float, test_fraction: float, seed: int
) -> PreparedData:
    """Loads a data set, joins near-duplicates and splits it by group."""
    dataset = load_dataset(data, labels)
    print(dataset.describe())
    started = time.monotonic()
    hashes = perceptual_hashes(decode(dataset.samples, HASH_SIZE).pixels)
    groups, joined = merge_near_duplicates(dataset.samples, near_duplicate_pairs(hashes))
    split = grouped_split(
        [s.label for s in dataset.samples], groups, validation_fraction, test_fraction, seed
    )
    print(
        f"near-duplicates: {joined} groups joined by perceptual hash "
        f"({time.monotonic() - started:.1f} s); {len(set(groups))} groups"
    )
    for part in ("train", "validation", "test"):
        indices = getattr(split, part)
        counts = np.bincount(
            [dataset.samples[i].label for i in indices], minlength=len(dataset.classes)
        )
        described = ", ".join(f"{c} {n}" for c, n in zip(dataset.classes, counts, strict=True))
        print(f"  {part:<10} {len(indices):>6} images: {described}")
    return PreparedData(dataset, split, groups, hashes)
