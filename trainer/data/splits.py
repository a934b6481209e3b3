"""Leak-free splits: stratified by class, grouped by lesion, near-duplicates kept together.

A random image-level split of dermoscopy data overstates accuracy: the same
lesion photographed twice, or re-cropped, lands in training and validation and
the model is graded on images it has effectively seen. Here a split is made of
whole groups (lesions), and images whose perceptual hashes are within a few
bits of each other are joined into one group first.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trainer.data.samples import Sample

__all__ = [
    "NEAR_DUPLICATE_BITS",
    "Split",
    "grouped_split",
    "merge_near_duplicates",
    "near_duplicate_pairs",
    "perceptual_hashes",
]

# The hash keeps the 16x16 lowest DCT frequencies of a 64x64 grey image, less
# the DC term: 255 bits. The common 8x8 (64-bit) pHash cannot tell dermoscopy images apart (a
# dark blob in the middle of pink skin), matching distinct lesions at 4 bits.
# Measured on isic-binary: re-encoded, re-cropped or recoloured
# copies of one photograph sit at 0-46 bits, most distinct lesions at 60-110;
# between 46 and 54 both occur. Joining two distinct lesions costs nothing but
# a little freedom in the split, while missing a duplicate leaks, so the cut is
# generous.
NEAR_DUPLICATE_BITS = 52
_HASH_SIDE = 64
_HASH_FREQUENCIES = 16


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    return np.cos(np.pi * (2 * x + 1) * k / (2 * n))


_DCT = _dct_matrix(_HASH_SIDE)


def perceptual_hashes(pixels: np.ndarray) -> np.ndarray:
    """pHash of each (N, S, S, 3) uint8 image, as (N, 255) booleans.

    Grey, area-resampled to 64x64, 2-D DCT, the 16x16 lowest frequencies
    compared with their median (the DC term, mean brightness, left out).
    """
    n, side = pixels.shape[0], pixels.shape[1]
    grey = pixels.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    # Area resampling through index buckets works for any side >= 64.
    edges = np.linspace(0, side, _HASH_SIDE + 1).astype(int)
    rows = np.add.reduceat(grey, edges[:-1], axis=1) / np.diff(edges)[None, :, None]
    small = np.add.reduceat(rows, edges[:-1], axis=2) / np.diff(edges)[None, None, :]
    frequencies = _DCT @ small @ _DCT.T
    k = _HASH_FREQUENCIES
    low = frequencies[:, :k, :k].reshape(n, k * k)[:, 1:]
    bits: np.ndarray = low > np.median(low, axis=1, keepdims=True)
    return bits


def near_duplicate_pairs(
    hashes: np.ndarray, others: np.ndarray | None = None, max_bits: int = NEAR_DUPLICATE_BITS
) -> list[tuple[int, int]]:
    """Index pairs (i, j) whose hashes differ in at most `max_bits` bits.


    Within one set (others=None) each pair is listed once with i < j; across
    two sets, i indexes `hashes` and j indexes `others`.
    """
    a = hashes.astype(np.float32)
    b = a if others is None else others.astype(np.float32)
    pairs: list[tuple[int, int]] = []
    for start in range(0, len(a), 2048):
        block = a[start : start + 2048]
        # Hamming distance of 0/1 vectors: ones in either minus twice the shared ones.
        distance = block.sum(1)[:, None] + b.sum(1)[None, :] - 2 * block @ b.T
        i, j = np.nonzero(distance <= max_bits + 0.5)
        i = i + start
        keep = i < j if others is None else np.ones_like(i, dtype=bool)
        pairs.extend(zip(i[keep].tolist(), j[keep].tolist(), strict=True))
    return pairs


def merge_near_duplicates(
    samples: Sequence[Sample], pairs: list[tuple[int, int]]
) -> tuple[list[str], int]:
    """Each sample's group after joining near-duplicates (union-find over groups).

    Returns the groups and how many separate groups were joined.
    """
    parent: dict[str, str] = {s.group: s.group for s in samples}

    def root(group: str) -> str:
        while parent[group] != group:
            parent[group] = parent[parent[group]]
            group = parent[group]
        return group

    joined = 0
    for i, j in pairs:
        a, b = root(samples[i].group), root(samples[j].group)
        if a != b:
            parent[max(a, b)] = min(a, b)
            joined += 1
    return [root(s.group) for s in samples], joined


@dataclass(frozen=True)
class Split:
    """Sample indices per part; parts never share a group."""

    train: tuple[int, ...]
    validation: tuple[int, ...]
    test: tuple[int, ...]

    def part_of(self) -> dict[int, str]:
        return {
            **dict.fromkeys(self.train, "train"),
            **dict.fromkeys(self.validation, "validation"),
            **dict.fromkeys(self.test, "test"),
        }


def grouped_split(
    labels: Sequence[int],
    groups: Sequence[str],
    validation_fraction: float,
    test_fraction: float = 0.0,
    seed: int = 0,
) -> Split:
    """Whole groups go to test, validation or train so each class gets its share.

    Groups are visited in a seeded random order; a group joins a held-out part
    while that part still needs images of the group's majority class. The
    shares are approximate (groups are indivisible) and reproducible.
    """
    if not 0 <= validation_fraction < 1 or not 0 <= test_fraction < 1:
        raise ValueError("split fractions must be in [0, 1)")
    if validation_fraction + test_fraction >= 1:
        raise ValueError("validation and test fractions leave nothing to train on")
    members: dict[str, list[int]] = defaultdict(list)
    for index, group in enumerate(groups):
        members[group].append(index)
    class_sizes = Counter(labels)
    wanted = {
        "test": {c: round(n * test_fraction) for c, n in class_sizes.items()},
        "validation": {c: round(n * validation_fraction) for c, n in class_sizes.items()},
    }
    taken: dict[str, Counter[int]] = {"test": Counter(), "validation": Counter()}
    parts: dict[str, list[int]] = {"train": [], "validation": [], "test": []}
    order = sorted(members)
    random.Random(seed).shuffle(order)
    for group in order:
        indices = members[group]
        majority = Counter(labels[i] for i in indices).most_common(1)[0][0]
        destination = "train"
        for part in ("test", "validation"):
            if taken[part][majority] + len(indices) / 2 <= wanted[part][majority]:
                destination = part
                break
        if destination != "train":
            taken[destination].update(labels[i] for i in indices)
        parts[destination].extend(indices)
    return Split(
        tuple(sorted(parts["train"])),
        tuple(sorted(parts["validation"])),
        tuple(sorted(parts["test"])),
    )
