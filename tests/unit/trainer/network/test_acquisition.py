"""The acquisition head: trained on features, its level, its weights and its augmentations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from skinscan_model.acquisition import CLINICAL, DERMOSCOPY, OTHER
from trainer.data.acquisition_augment import augment_photo, crop_bottom, small_field_of_view
from trainer.network.acquisition import (
    MAX_LEVEL,
    AcquisitionHead,
    HeadFitConfig,
    choose_level,
    fit_head,
    gate_features,
    predict,
    sample_weights,
)


def test_each_class_weighs_alike_and_a_large_source_not_in_proportion() -> None:
    classes = np.array([0] * 100 + [0] * 4 + [1] * 10)
    sources = np.array(["big"] * 100 + ["small"] * 4 + ["neg"] * 10)
    weights = sample_weights(classes, sources)
    assert weights[classes == 0].sum() == pytest.approx(weights[classes == 1].sum())
    big, small = weights[:100].sum(), weights[100:104].sum()
    assert big / small == pytest.approx(np.sqrt(100 / 4))


def test_a_head_learns_separable_classes_and_exports_probabilities() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (3, 32))
    classes = np.repeat([DERMOSCOPY, CLINICAL, OTHER], 200)
    features = (centres[classes] + rng.normal(0, 1, (600, 32))).astype(np.float32)
    head = fit_head(
        features, classes, sample_weights(classes, classes.astype(str)), HeadFitConfig(epochs=60)
    )
    probabilities = predict(head, features)
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert (probabilities.argmax(axis=1) == classes).mean() > 0.95
    # In the graph it reads stage maps, pooled as gate_features pools them.
    maps = [torch.randn(5, 8, 3, 3), torch.randn(5, 8, 2, 2)]
    assert isinstance(head, AcquisitionHead)
    pooled = gate_features(maps).numpy()
    assert np.allclose(head(maps).detach().numpy(), predict(head, pooled), atol=1e-5)


def test_the_gate_reads_each_stage_s_mean_and_spatial_spread() -> None:
    flat = torch.full((2, 3, 4, 4), 2.0)
    varied = torch.zeros((2, 5, 2, 2))
    varied[:, :, 0, 0] = 4.0  # mean 1, population standard deviation sqrt(3)
    features = gate_features([flat, varied])
    assert features.shape == (2, 2 * (3 + 5))
    assert torch.allclose(features[:, :3], torch.tensor(2.0))
    assert torch.allclose(features[:, 3:6], torch.tensor(0.0), atol=1e-5)
    assert torch.allclose(features[:, 6:11], torch.tensor(1.0))
    assert torch.allclose(features[:, 11:], torch.tensor(3.0).sqrt())


def test_the_level_lets_the_weakest_collection_pass_and_never_exceeds_one_half() -> None:
    p = np.zeros((400, 3))
    p[:, DERMOSCOPY] = np.linspace(0.001, 1.0, 400)
    collections = np.array(["a"] * 200 + ["b"] * 200)
    level = choose_level(p, collections)
    for c in ("a", "b"):
        assert (p[collections == c, DERMOSCOPY] < level).mean() <= 0.005
    p[:, DERMOSCOPY] = 0.99
    assert choose_level(p, collections) == MAX_LEVEL
    with pytest.raises(ValueError):
        choose_level(p[:0], collections[:0])


def test_augmentations_keep_an_rgb_image_and_are_reproducible() -> None:
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, (120, 160, 3), np.uint8))
    first = [augment_photo(image, np.random.default_rng([3, i])) for i in range(20)]
    again = [augment_photo(image, np.random.default_rng([3, i])) for i in range(20)]
    assert all(a.mode == "RGB" and min(a.size) >= 8 for a in first)
    assert all(
        np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(first, again, strict=True)
    )
    assert crop_bottom(image, 0.12).size == (160, 106)


def test_a_small_field_of_view_keeps_the_picture_inside_a_dark_frame() -> None:
    image = Image.new("RGB", (160, 120), (200, 120, 100))
    scoped = np.asarray(small_field_of_view(image, np.random.default_rng(4)))
    assert scoped.shape == (120, 160, 3)
    assert scoped[0, 0].max() < 60 and scoped[-1, -1].max() < 60  # the corners are dark
    assert (
        np.abs(scoped[60, 80].astype(int) - (200, 120, 100)).max() < 8
    )  # the centre is the picture
