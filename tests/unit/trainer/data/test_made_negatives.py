"""trainer.data.made_negatives: the gate's made negatives, reproducible and apart from the test set."""

from __future__ import annotations

import hashlib

import pytest

from skinscan_model.preprocessing import ImageLimits, decode_for_model
from trainer.data.made_negatives import MADE_KINDS, made_negatives
from trainer.data.not_dermoscopy import not_dermoscopy


def _digests(images: dict[str, list[bytes]]) -> set[str]:
    return {hashlib.sha256(data).hexdigest() for kind in images.values() for data in kind}


def test_every_kind_is_made_alike_for_a_seed_and_otherwise_for_another() -> None:
    first, again, other = made_negatives(0, 5), made_negatives(0, 5), made_negatives(1, 5)
    assert tuple(first) == MADE_KINDS
    assert all(len(images) == 5 for images in first.values())
    assert first == again
    assert not _digests(first) & _digests(other)


def test_none_is_an_image_the_refusals_are_measured_on() -> None:
    # The measured set (seed 0) must never be fitted on, whatever the gate's seed.
    measured = _digests(not_dermoscopy())
    for seed in (0, 1, 2):
        assert not _digests(made_negatives(seed, 12)) & measured


@pytest.mark.parametrize("kind", MADE_KINDS)
def test_each_decodes_as_the_service_decodes_an_upload(kind: str) -> None:
    for data in made_negatives(3, 6)[kind]:
        image, _ = decode_for_model(data, 128, ImageLimits())
        assert min(image.size) >= 96
