from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from trainer.data.samples import Sample
from trainer.data.splits import (
    grouped_split,
    merge_near_duplicates,
    near_duplicate_pairs,
    perceptual_hashes,
)


@st.composite
def grouped_labels(draw: st.DrawFn) -> tuple[list[int], list[str]]:
    """Images in lesions of 1-4 photographs, each lesion with one label."""
    lesions = draw(st.integers(min_value=2, max_value=60))
    labels: list[int] = []
    groups: list[str] = []
    for lesion in range(lesions):
        label = draw(st.integers(min_value=0, max_value=2))
        for _ in range(draw(st.integers(min_value=1, max_value=4))):
            labels.append(label)
            groups.append(f"lesion-{lesion}")
    order = draw(st.permutations(range(len(labels))))
    return [labels[i] for i in order], [groups[i] for i in order]


@settings(max_examples=200, deadline=None)
@given(
    grouped_labels(),
    st.floats(min_value=0.0, max_value=0.45),
    st.floats(min_value=0.0, max_value=0.45),
    st.integers(min_value=0, max_value=2**16),
)
def test_grouped_split_never_puts_one_lesion_in_two_parts(
    data: tuple[list[int], list[str]], validation: float, test: float, seed: int
) -> None:
    labels, groups = data
    split = grouped_split(labels, groups, validation, test, seed)
    parts = [split.train, split.validation, split.test]
    assert sorted(i for part in parts for i in part) == list(range(len(labels)))
    lesions = [{groups[i] for i in part} for part in parts]
    assert lesions[0].isdisjoint(lesions[1])
    assert lesions[0].isdisjoint(lesions[2])
    assert lesions[1].isdisjoint(lesions[2])
    # Reproducible for a seed.
    assert grouped_split(labels, groups, validation, test, seed) == split


def test_grouped_split_is_stratified_when_lesions_are_single_images() -> None:
    labels = [0] * 600 + [1] * 400
    groups = [str(i) for i in range(1000)]
    split = grouped_split(labels, groups, 0.15, 0.15, seed=1)
    for part in (split.validation, split.test):
        counts = Counter(labels[i] for i in part)
        assert counts == {0: 90, 1: 60}


def test_near_duplicates_are_found_and_joined(isic_train: Path) -> None:
    """A re-encoded, slightly shifted copy of a real image is a near-duplicate; another lesion is not."""
    from PIL import Image

    from skinscan_model.preprocessing import resize_and_crop

    paths = sorted((isic_train / "benign").glob("*.jpg"))[:6]
    images = [Image.open(p).convert("RGB") for p in paths]
    copy = images[0].crop((4, 4, 220, 220)).resize((224, 224))
    pixels = np.stack([resize_and_crop(image, 64) for image in [*images, copy]])
    hashes = perceptual_hashes(pixels)
    pairs = near_duplicate_pairs(hashes)
    assert (0, 6) in pairs
    assert all(6 in pair for pair in pairs), pairs
    samples = [Sample(Path(f"{i}.jpg"), 0, f"image-{i}") for i in range(7)]
    groups, joined = merge_near_duplicates(samples, pairs)
    assert joined == 1 and groups[0] == groups[6] and len(set(groups)) == 6
