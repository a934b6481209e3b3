"""Training on cached features of a frozen front: one pass per augmentation draw, then cheap epochs."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from trainer.training.frozen_features import (
    FeatureCache,
    FrozenFitConfig,
    cache_features,
    fit_on_features,
)


def _colour_front(pixels: torch.Tensor) -> torch.Tensor:
    """A stand-in frozen network: each image's mean colour."""
    return pixels.float().mean(dim=(1, 2)) / 255.0


def test_each_draw_is_one_augmented_pass_and_validation_is_plain() -> None:
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (20, 16, 16, 3), dtype=np.uint8)
    validation = rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    cache = cache_features(_colour_front, train, validation, draws=3, seed=0, batch_size=8)
    assert len(cache.draws) == 3
    assert all(d.shape == (20, 3) and d.dtype == torch.float16 for d in cache.draws)
    # Augmentation (colour jitter, geometry) differs draw to draw; validation is untouched.
    assert not torch.equal(cache.draws[0], cache.draws[1])
    expected = _colour_front(torch.from_numpy(validation)).half()
    assert torch.equal(cache.validation, expected)
    assert cache.images_per_second > 0 and cache.megabytes > 0


def test_the_trained_part_learns_and_its_batchnorm_statistics_stay() -> None:
    rng = np.random.default_rng(1)
    targets = rng.integers(0, 3, 300)
    centres = rng.normal(size=(3, 8)) * 3
    features = [
        torch.from_numpy((centres[targets] + rng.normal(size=(300, 8))).astype(np.float16))
        for _ in range(2)
    ]
    validation_targets = rng.integers(0, 3, 90)
    validation = torch.from_numpy(
        (centres[validation_targets] + rng.normal(size=(90, 8))).astype(np.float16)
    )
    cache = FeatureCache(features, validation, images_per_second=1.0, seconds=1.0)
    norm = nn.BatchNorm1d(8)
    head = nn.Linear(8, 3)
    trainable = nn.Sequential(norm, head)
    assert norm.running_mean is not None
    before = norm.running_mean.clone()
    result, rate = fit_on_features(
        trainable,
        {id(p) for p in head.parameters()},
        cache,
        targets,
        validation_targets,
        3,
        FrozenFitConfig(epochs=6, batch_size=32, learning_rate=3e-3, patience=3, seed=0),
    )
    assert rate > 0
    assert result.history[-1].val_balanced_accuracy > 0.8
    assert result.best_epoch == min(result.history, key=lambda r: r.val_loss).epoch
    # BatchNorm ran in eval mode throughout: its statistics are the ones it came with.
    assert torch.equal(norm.running_mean, before)
