"""Out-of-distribution score: how unlike the training dermoscopy an image's features are.

A Mahalanobis distance of the pooled backbone features to their training
distribution, fitted at export. The covariance of 2048 features from a few
thousand images is singular, so it is regularised the way probabilistic PCA
does: the leading components keep their variances, and the rest share their
mean. The score is part of the exported graph; its threshold is read off the
validation images (see trainer.finalize), so no guess is involved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = ["MahalanobisScore", "OodStatistics", "fit_statistics"]

MAX_COMPONENTS = 256


@dataclass(frozen=True)
class OodStatistics:
    mean: np.ndarray  # (D,)
    components: np.ndarray  # (D, k), orthonormal columns
    variances: np.ndarray  # (k,)
    residual_variance: float  # the mean variance of the other D - k directions
    images: int


def fit_statistics(features: np.ndarray) -> OodStatistics:
    """Fits the training distribution of `features` (N, D)."""
    n, dims = features.shape
    mean = features.mean(axis=0)
    centred = (features - mean).astype(np.float64)
    _, singular, rows = np.linalg.svd(centred, full_matrices=False)
    eigenvalues = singular**2 / max(n - 1, 1)
    # Enough components to describe the data, few enough that each variance is well estimated.
    k = int(min(MAX_COMPONENTS, dims - 1, max(1, n // 4)))
    total = float(centred.var(axis=0, ddof=1).sum()) if n > 1 else 0.0
    residual = max(total - float(eigenvalues[:k].sum()), 0.0) / (dims - k)
    floor = 1e-6 * max(float(eigenvalues[0]), 1e-12)
    return OodStatistics(
        mean=mean.astype(np.float32),
        components=rows[:k].T.astype(np.float32),
        variances=np.maximum(eigenvalues[:k], floor).astype(np.float32),
        residual_variance=max(residual, floor),
        images=n,
    )


class MahalanobisScore(nn.Module):
    """Pooled features (N, D) -> regularised squared Mahalanobis distance (N,)."""

    mean: torch.Tensor
    components: torch.Tensor
    variances: torch.Tensor

    def __init__(self, statistics: OodStatistics) -> None:
        super().__init__()
        self.register_buffer("mean", torch.from_numpy(statistics.mean))
        self.register_buffer("components", torch.from_numpy(statistics.components))
        self.register_buffer("variances", torch.from_numpy(statistics.variances))
        self.residual_variance = float(statistics.residual_variance)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        centred = features.float() - self.mean
        projected = centred @ self.components
        inside = (projected.square() / self.variances).sum(dim=1)
        # What the leading components do not explain, at the variance the rest share.
        # Subtracted explicitly: |centred|^2 - |projected|^2 cancels catastrophically
        # in float32 when the residual is small.
        residual = centred - projected @ self.components.T
        return inside + residual.square().sum(dim=1) / self.residual_variance
