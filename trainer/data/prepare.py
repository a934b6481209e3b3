"""Data sets made ready to train on: loaded, near-duplicates joined, split by lesion group.

Several sources (isic-binary and HAM10000, say) are each split on their own,
exactly as each would be alone, so a source's validation split is the same
whether or not others join it. Then the sources meet: an image that nearly
duplicates an image of another source in another part of the split is left
out of the later source, so no lesion is trained on in one source and
evaluated in another.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.data.datasets import Dataset, load_dataset
from trainer.data.samples import DataError, decode
from trainer.data.splits import (
    Split,
    grouped_split,
    merge_near_duplicates,
    near_duplicate_pairs,
    perceptual_hashes,
)

__all__ = [
    "PreparedData",
    "describe_split",
    "prepare",
    "prepare_sources",
    "split_without_leaks",
]

HASH_SIZE = 64  # images are hashed at this size, whatever size the model trains at
PARTS = ("train", "validation", "test")


@dataclass(frozen=True)
class PreparedData:
    dataset: Dataset  # every source's samples, in order
    split: Split
    groups: list[str]
    hashes: np.ndarray
    # Where each sample comes from: an index into `roots`.
    roots: tuple[Path, ...]
    source: np.ndarray

    def part_sources(self, part: str) -> np.ndarray:
        """The source of each sample of one part of the split, in the part's order."""
        return self.source[list(getattr(self.split, part))]

    def source_indices(self, part: str, root: int) -> list[int]:
        """The samples of one source in one part of the split."""
        return [i for i in getattr(self.split, part) if self.source[i] == root]

    def write_split(self, path: Path) -> None:
        """The split as CSV, paths relative to their source, so `skinscan evaluate --split` can reuse it."""
        parts = self.split.part_of()
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "label", "group", "split", "source"])
            for index, sample in enumerate(self.dataset.samples):
                if index not in parts:
                    continue  # left out as a near-duplicate across sources
                root = self.roots[self.source[index]]
                writer.writerow(
                    [
                        sample.path.relative_to(root).as_posix(),
                        self.dataset.classes[sample.label],
                        self.groups[index],
                        parts[index],
                        str(root),
                    ]
                )


def split_without_leaks(
    part_of: dict[int, str], hashes: np.ndarray, source: np.ndarray
) -> tuple[Split, set[int]]:
    """The split `part_of` gives, less every image that nearly duplicates an image of another
    source in another part (the later source gives way); and those left out."""
    left_out: set[int] = set()
    for first, second in near_duplicate_pairs(hashes):
        if (
            source[first] != source[second]
            and first in part_of
            and second in part_of
            and part_of[first] != part_of[second]
        ):
            left_out.add(max(first, second))
    split = Split(
        *(
            tuple(i for i in sorted(part_of) if part_of[i] == name and i not in left_out)
            for name in PARTS
        )
    )
    return split, left_out


def describe_split(dataset: Dataset, split: Split) -> None:
    for part in PARTS:
        indices = getattr(split, part)
        counts = np.bincount(
            [dataset.samples[i].label for i in indices], minlength=len(dataset.classes)
        )
        described = ", ".join(f"{c} {n}" for c, n in zip(dataset.classes, counts, strict=True))
        print(f"  {part:<10} {len(indices):>6} images: {described}")


def prepare(
    data: Path, labels: str, validation_fraction: float, test_fraction: float, seed: int
) -> PreparedData:
    """Loads one data set, joins near-duplicates and splits it by group."""
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
    describe_split(dataset, split)
    source = np.zeros(len(dataset.samples), dtype=np.int64)
    return PreparedData(dataset, split, groups, hashes, (data,), source)


def prepare_sources(
    sources: tuple[Path, ...],
    labels: str,
    validation_fraction: float,
    test_fraction: float,
    seed: int,
) -> PreparedData:
    """Each source prepared alone, then joined without a near-duplicate across parts."""
    prepared = [prepare(s, labels, validation_fraction, test_fraction, seed) for s in sources]
    if len(prepared) == 1:
        return prepared[0]
    classes = prepared[0].dataset.classes
    for part in prepared[1:]:
        if part.dataset.classes != classes:
            raise DataError(
                f"{part.roots[0]} has classes {part.dataset.classes}, but {sources[0]} has "
                f"{classes}: sources trained together must share their classes"
            )
    offsets = np.cumsum([0, *(len(p.dataset.samples) for p in prepared)])
    part_of: dict[int, str] = {}
    for offset, part in zip(offsets, prepared, strict=False):
        part_of |= {offset + i: name for i, name in part.split.part_of().items()}
    hashes = np.concatenate([p.hashes for p in prepared])
    source = np.concatenate([np.full(len(p.dataset.samples), i) for i, p in enumerate(prepared)])
    split, left_out = split_without_leaks(part_of, hashes, source)
    dataset = Dataset(
        " + ".join(p.dataset.name for p in prepared),
        sources[0],
        tuple(s for p in prepared for s in p.dataset.samples),
        classes,
    )
    groups = [f"{i}:{g}" for i, p in enumerate(prepared) for g in p.groups]
    print(
        f"{dataset.name}: left out {len(left_out)} images that nearly duplicate an image of "
        "another source in another part of the split"
    )
    describe_split(dataset, split)
    return PreparedData(dataset, split, groups, hashes, sources, source)
