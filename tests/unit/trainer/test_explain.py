"""The explanations inside the exported graph: Grad-CAM against autograd, the OOD score against numpy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional

from skinscan_model.metadata import InputSpec
from skinscan_model.preprocessing import load_model_input
from trainer.export import heatmap_correlation, pooled_features
from trainer.model import CAM_FLOOR, ExportedClassifier, build_classifier
from trainer.ood import MahalanobisScore, fit_statistics

SIZE = 32


@pytest.fixture(scope="module")
def pixels(isic_train: Path) -> np.ndarray:
    images = sorted(isic_train.rglob("*.jpg"))[::50]
    return np.stack([load_model_input(p.read_bytes(), SIZE) for p in images])


def _exported(pixels: np.ndarray, threshold: float) -> ExportedClassifier:
    torch.manual_seed(0)
    classifier = build_classifier("tiny", "none", 2, InputSpec(size=SIZE))
    # Real BatchNorm statistics, not the initial ones: a few forward passes in train mode.
    classifier.train()
    with torch.no_grad():
        classifier(torch.from_numpy(pixels))
    classifier.eval()
    ood = MahalanobisScore(fit_statistics(pooled_features(classifier, pixels)))
    return ExportedClassifier(classifier, ood, temperature=0.8, threshold=threshold).eval()


def _autograd_grad_cam(exported: ExportedClassifier, pixels: np.ndarray) -> np.ndarray:
    """Grad-CAM as published: gradients of the class score from autograd, one image at a time."""
    classifier = exported.classifier
    maps = []
    for image in torch.from_numpy(pixels):
        feature_map = classifier.feature_map(image[None]).detach().requires_grad_(True)
        logits = classifier.head(feature_map.mean(dim=(2, 3)))[0]
        probability = torch.softmax(logits / exported.temperature, 0)[1]
        score = logits[1] - logits[0]
        if probability < exported.threshold:
            score = -score
        (gradient,) = torch.autograd.grad(score, feature_map)
        weights = gradient.mean(dim=(2, 3), keepdim=True)
        cam = torch.relu((weights * feature_map).sum(dim=1))
        # Grad-CAM's weights are the gradients' spatial mean, 1/(h*w) of ours: same map
        # after scaling to the peak, so the floor is scaled alike.
        floor = CAM_FLOOR / (feature_map.shape[2] * feature_map.shape[3])
        cam = cam / cam.amax().clamp_min(floor)
        resized = functional.interpolate(cam[None], size=(SIZE, SIZE), mode="bilinear")
        maps.append((resized[0, 0] * 255).round().clamp(0, 255).to(torch.uint8).numpy())
    return np.stack(maps)


@pytest.mark.parametrize("threshold", [0.0, 1.01, 0.5], ids=["malignant", "benign", "mixed"])
def test_the_graphs_grad_cam_is_autograds(pixels: np.ndarray, threshold: float) -> None:
    exported = _exported(pixels, threshold)
    with torch.no_grad():
        _, _, _, heatmap = exported(torch.from_numpy(pixels))
    expected = _autograd_grad_cam(exported, pixels)
    assert heatmap.dtype == torch.uint8 and heatmap.shape == (len(pixels), SIZE, SIZE)
    assert np.abs(heatmap.numpy().astype(int) - expected.astype(int)).max() <= 1
    assert heatmap_correlation(heatmap.numpy(), expected) > 0.999
    assert heatmap.numpy().max() > 0  # the maps are not all empty


def test_the_ood_score_is_the_mahalanobis_distance() -> None:
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(6, 6))
    train = rng.normal(size=(4000, 6)) @ mixing
    statistics = fit_statistics(train)
    # Five components kept, the sixth direction alone left: its variance is the
    # residual, so the regularised distance is the exact one.
    assert statistics.components.shape == (6, 5)
    queries = rng.normal(size=(50, 6)) @ mixing * 3
    inverse = np.linalg.inv(np.cov(train, rowvar=False))
    centred = queries - train.mean(axis=0)
    expected = np.einsum("nd,de,ne->n", centred, inverse, centred)
    with torch.no_grad():
        scores = MahalanobisScore(statistics)(torch.from_numpy(queries.astype(np.float32)))
    np.testing.assert_allclose(scores.numpy(), expected, rtol=1e-3)
