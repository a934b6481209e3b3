"""The acquisition head: is this dermoscopy, a clinical photograph of skin, or something else?

It reads the pooled mean and spatial spread (standard deviation) of every
stage of the frozen backbone (early stages see colour and texture, late ones
lesions), standardised, through one linear layer to three probabilities inside
the exported graph. It is trained by outlier exposure: dermoscopy from every
source against real negatives, both varied as new clinics vary them
(trainer.data.acquisition_augment), weighted so that each class counts alike and no
one source dominates its class.

Linear on purpose: on version 3's features a hidden layer of 128, a small
convolutional branch on the first or third stage's maps and a network trained
from pixels all did no better where it matters (the dermoscopy probability's
lower tail), and a linear head refits in seconds, which the leave-one-out
report needs (docs/model-lineage.md has the measurements).

The refusal level for the dermoscopy probability is read off validation
dermoscopy: the highest level under which at most 0.5% of each collection's
validation images fall, and never above one half (an image likelier to be
something else than dermoscopy is refused).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from skinscan_model.acquisition import ACQUISITION_CLASSES, DERMOSCOPY

__all__ = [
    "GATE_PASS_RATE",
    "AcquisitionHead",
    "HeadFitConfig",
    "choose_level",
    "fit_head",
    "gate_features",
    "predict",
    "sample_weights",
]

# The share of each collection's validation dermoscopy the level lets through.
GATE_PASS_RATE = 0.995
MAX_LEVEL = 0.5


def gate_features(maps: list[torch.Tensor]) -> torch.Tensor:
    """Every stage's map (N, C_s, h, w) -> its pooled means, then its pooled standard
    deviations, stage after stage (N, 2 sum C_s). The spread says how uniform a stage's
    response is over the picture: a dermatoscope's even light against a photograph's
    background, highlights and shadows."""
    parts = []
    for m in maps:
        mean = m.mean(dim=(2, 3), keepdim=True)
        spread = ((m - mean) ** 2).mean(dim=(2, 3)).clamp_min(1e-12).sqrt()
        parts += [mean.flatten(1), spread]
    return torch.cat(parts, dim=1)


class AcquisitionHead(nn.Module):
    """Stage maps -> (N, 3) probabilities of ACQUISITION_CLASSES."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("mean", torch.from_numpy(mean.astype(np.float32)))
        self.register_buffer("std", torch.from_numpy(std.astype(np.float32)))
        self.layers = nn.Linear(len(mean), len(ACQUISITION_CLASSES))

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.layers((features.float() - self.mean) / self.std)
        return logits

    def forward(self, maps: list[torch.Tensor]) -> torch.Tensor:
        return torch.softmax(self.logits(gate_features(maps)), dim=1)


def sample_weights(classes: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Each class weighs alike; within a class a source weighs as the square root of its
    images (a large source counts more, but not in proportion: HAM10000 would drown acral/)."""
    weights = np.zeros(len(classes), dtype=np.float64)
    for c in np.unique(classes):
        mine = classes == c
        names, counts = np.unique(sources[mine], return_counts=True)
        per_image = {n: 1 / math.sqrt(k) for n, k in zip(names, counts, strict=True)}
        w = np.array([per_image[s] for s in sources[mine]])
        weights[mine] = w / w.sum()
    return (weights / weights.sum() * len(classes)).astype(np.float32)


@dataclass(frozen=True)
class HeadFitConfig:
    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 3e-3
    # An L2 penalty on the weights, added to the mean loss (a logistic regression's 1 / (C n)).
    l2: float = 3e-4
    seed: int = 0


def fit_head(
    features: np.ndarray,
    classes: np.ndarray,
    weights: np.ndarray,
    config: HeadFitConfig = HeadFitConfig(),
) -> AcquisitionHead:
    """Trains a head on (N, D) features of (augmented) training images; eval mode on return."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    x = torch.from_numpy(features.astype(np.float32))
    mean = x.mean(dim=0)
    std = x.std(dim=0).clamp_min(1e-3 * float(x.std(dim=0).mean()) + 1e-12)
    head = AcquisitionHead(mean.numpy(), std.numpy())
    y = torch.from_numpy(classes.astype(np.int64))
    w = torch.from_numpy(weights)
    optimizer = torch.optim.Adam(head.parameters(), lr=config.learning_rate)
    steps = max(1, math.ceil(len(x) / config.batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.learning_rate, total_steps=config.epochs * steps
    )
    head.train()
    for _ in range(config.epochs):
        order = torch.randperm(len(x), generator=generator)
        for step in range(steps):
            index = order[step * config.batch_size : (step + 1) * config.batch_size]
            losses = nn.functional.cross_entropy(head.logits(x[index]), y[index], reduction="none")
            loss = (losses * w[index]).sum() / w[index].sum()
            loss = loss + config.l2 / 2 * head.layers.weight.pow(2).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    return head.eval()


def predict(head: AcquisitionHead, features: np.ndarray) -> np.ndarray:
    """(N, 3) probabilities from (N, D) features."""
    with torch.no_grad():
        parts = [
            torch.softmax(head.logits(torch.from_numpy(features[i : i + 4096])), dim=1)
            for i in range(0, len(features), 4096)
        ]
    return torch.cat(parts).numpy() if parts else np.zeros((0, len(ACQUISITION_CLASSES)))


def choose_level(dermoscopy: np.ndarray, collections: np.ndarray) -> float:
    """The level for the dermoscopy probability: at most 0.5% of each collection's validation
    dermoscopy under it, and never above MAX_LEVEL. `dermoscopy` is (N, 3) probabilities."""
    if not len(dermoscopy):
        raise ValueError("no validation dermoscopy to set the acquisition level on")
    p = dermoscopy[:, DERMOSCOPY]
    level = min(
        float(np.quantile(p[collections == c], 1 - GATE_PASS_RATE, method="lower"))
        for c in np.unique(collections)
    )
    return min(MAX_LEVEL, level)
