"""Out-of-distribution score: how unlike the training dermoscopy an image's features are.

At several stages of the backbone (early ones see colour and texture, late
ones see lesions), the image's pooled features are compared with those of the
training images by a Mahalanobis distance: class-conditional means (each
source's classes: benign and malignant, the seven diagnoses), one covariance
shared by every class, and the distance to the nearest class mean. The score
is the largest of the stages' distances, each divided by its median over the
training images: an image unlike dermoscopy at any depth is refused. (The
largest refused 90% of the non-dermoscopy set where the sum refused 80%, at
the same pass rate of real dermoscopy.)

The covariance of a few thousand features from a few thousand images is
singular, so it is regularised the way probabilistic PCA does: the leading
components keep their variances, and the rest share their mean. The score is
part of the exported graph; its threshold is read off the validation images
(trainer.finalize), so no guess is involved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = [
    "OOD_STAGES",
    "OodScore",
    "OodStatistics",
    "StageStatistics",
    "fit_statistics",
    "stage_features",
]

# Measured on version 2's features (layer1-4, the largest): 64, 128 and 256 components
# refused 73%, 77% and 76% of the non-dermoscopy set at the margined level, with the same
# pass rates of real dermoscopy; 128 keeps each stage's statistics at half the size.
MAX_COMPONENTS = 128
# How many of the backbone's last stages the score reads (ResNet50: layer1-layer4). Measured
# on version 2's backbone, with the level where 99% of each source's validation passes, the
# non-dermoscopy set refused: layer4 alone 40%, layer2-4 72-77%, layer1-4 90%.
OOD_STAGES = 4


def stage_features(feature_map: torch.Tensor) -> torch.Tensor:
    """A stage's map (N, C, h, w) -> its pooled features (N, C).

    (Each channel's spread over the image was tried beside its mean: on
    version 2's backbone, layer1-4 with their spreads refused 78-79% of the
    non-dermoscopy set against 91% for the means alone, at the same pass rate
    of real dermoscopy.)
    """
    return feature_map.mean(dim=(2, 3))


@dataclass(frozen=True)
class StageStatistics:
    means: np.ndarray  # (classes, D)
    components: np.ndarray  # (D, k), orthonormal columns
    variances: np.ndarray  # (k,)
    residual_variance: float  # the mean variance of the other D - k directions
    scale: float  # the training images' median distance, so stages compare on one scale


@dataclass(frozen=True)
class OodStatistics:
    stages: tuple[StageStatistics, ...]
    images: int
    classes: int


def _fit_stage(features: np.ndarray, classes: np.ndarray) -> StageStatistics:
    n, dims = features.shape
    present = np.unique(classes)
    means = np.stack([features[classes == c].mean(axis=0) for c in present])
    centred = (features - means[np.searchsorted(present, classes)]).astype(np.float64)
    _, singular, rows = np.linalg.svd(centred, full_matrices=False)
    eigenvalues = singular**2 / max(n - len(present), 1)
    # Enough components to describe the data, few enough that each variance is well estimated.
    k = int(min(MAX_COMPONENTS, dims - 1, max(1, n // 4)))
    total = float((centred**2).sum()) / max(n - len(present), 1)
    floor = 1e-6 * max(float(eigenvalues[0]), 1e-12)
    residual = max(max(total - float(eigenvalues[:k].sum()), 0.0) / (dims - k), floor)
    stage = StageStatistics(
        means=means.astype(np.float32),
        components=rows[:k].T.astype(np.float32),
        variances=np.maximum(eigenvalues[:k], floor).astype(np.float32),
        residual_variance=residual,
        scale=1.0,
    )
    with torch.no_grad():
        distances = _StageDistance(stage)(torch.from_numpy(features.astype(np.float32)))
    scale = max(float(np.median(distances.numpy())), 1e-12)
    return StageStatistics(
        stage.means, stage.components, stage.variances, stage.residual_variance, scale
    )


def fit_statistics(stages: list[np.ndarray], classes: np.ndarray) -> OodStatistics:
    """Fits each stage's features (N, D_s) of the training images, of classes `classes` (N,)."""
    if not stages or any(len(s) != len(classes) for s in stages):
        raise ValueError("every stage needs the features of every training image")
    return OodStatistics(
        tuple(_fit_stage(s, classes) for s in stages),
        images=len(classes),
        classes=len(np.unique(classes)),
    )


class _StageDistance(nn.Module):
    """Features (N, D) -> squared Mahalanobis distance to the nearest class mean, / scale."""

    components: torch.Tensor
    variances: torch.Tensor
    projected_means: torch.Tensor
    residual_means: torch.Tensor

    def __init__(self, statistics: StageStatistics) -> None:
        super().__init__()
        means = torch.from_numpy(statistics.means)
        components = torch.from_numpy(statistics.components)
        self.register_buffer("components", components)
        self.register_buffer("variances", torch.from_numpy(statistics.variances))
        # Each mean split once, here, into its part along the components and the rest,
        # so an image is projected once whatever the number of classes.
        projected = means @ components
        self.register_buffer("projected_means", projected)
        self.register_buffer("residual_means", means - projected @ components.T)
        self.residual_variance = float(statistics.residual_variance)
        self.scale = float(statistics.scale)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = features.float()
        projected = x @ self.components  # (N, k)
        # Subtracted explicitly, not as |x|^2 - |projected|^2, which cancels
        # catastrophically in float32 when the residual is small. Projected back as
        # (C p^T)^T, not p C^T: the export would fold C^T into a second copy of the
        # components (2 MiB per stage); transposing the activations costs nothing.
        residual = x - (self.components @ projected.T).T  # (N, D)
        inside = (
            (projected[:, None, :] - self.projected_means[None]).square() / self.variances
        ).sum(dim=2)  # (N, classes)
        outside = (residual[:, None, :] - self.residual_means[None]).square().sum(dim=2)
        distances = inside + outside / self.residual_variance
        return distances.amin(dim=1) / self.scale


class OodScore(nn.Module):
    """The features of the last `stages` stages (stage_features) -> the largest stage distance."""

    def __init__(self, statistics: OodStatistics) -> None:
        super().__init__()
        self.distances = nn.ModuleList(_StageDistance(s) for s in statistics.stages)

    @property
    def stages(self) -> int:
        return len(self.distances)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        if len(features) != len(self.distances):
            raise ValueError(f"expected {len(self.distances)} stages, got {len(features)}")
        scores = [distance(f) for distance, f in zip(self.distances, features, strict=True)]
        return torch.stack(scores).amax(dim=0)
