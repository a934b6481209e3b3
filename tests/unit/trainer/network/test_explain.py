"""The explanations inside the exported graph: Grad-CAM against autograd, the OOD score against numpy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional

from skinscan_model.metadata import InputSpec
from skinscan_model.preprocessing import load_model_input
from trainer.export.graph import (
    HEATMAP_SWITCH_MARGIN,
    ParityError,
    check_parity,
    comparable_heatmaps,
    export_onnx,
    heatmap_correlation,
    ood_features,
    torch_outputs,
)
from trainer.network.model import CAM_FLOOR, ExportedClassifier, build_classifier
from trainer.network.ood import OodScore, fit_statistics

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
    features = ood_features(classifier, pixels, len(classifier.backbone.stages))
    ood = OodScore(fit_statistics(features, np.zeros(len(pixels), dtype=int)))
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


def test_an_image_on_a_switch_of_its_heat_map_is_not_compared(pixels: np.ndarray) -> None:
    """The map switches where the decision does and where a hidden unit crosses its ReLU."""
    exported = _exported(pixels, 0.5)
    positive = torch_outputs(exported, pixels)["probabilities"][:, 1]
    assert comparable_heatmaps(exported, pixels).mean() > 0.8  # most images lie off a switch
    # The threshold on image 0's probability: which map it gets is down to rounding.
    exported.threshold = float(positive[0])
    assert not comparable_heatmaps(exported, pixels)[0]
    exported.threshold = 0.5
    # Unit 0 of the hidden layer exactly at its ReLU for image 1.
    first, norm, _, _ = exported.classifier.head
    assert isinstance(first, torch.nn.Linear) and isinstance(norm, torch.nn.BatchNorm1d)
    with torch.no_grad():
        pooled = exported.classifier.feature_map(torch.from_numpy(pixels[1:2])).mean(dim=(2, 3))
        norm.bias[0] -= norm(first(pooled))[0, 0]
    _, to_gate = exported.heatmap_switches(torch.from_numpy(pixels))
    assert to_gate[1] < HEATMAP_SWITCH_MARGIN / 10 and not comparable_heatmaps(exported, pixels)[1]
    # A unit BatchNorm scales to nothing weighs no channel, so its gate switches nothing.
    with torch.no_grad():
        norm.weight[0] = 0.0
        norm.bias[0] = 0.0
    assert exported.heatmap_switches(torch.from_numpy(pixels))[1][1] > HEATMAP_SWITCH_MARGIN


def test_the_parity_check_compares_heat_maps_off_their_switches(
    pixels: np.ndarray, tmp_path: Path
) -> None:
    exported = _exported(pixels, 0.5)
    positive = torch_outputs(exported, pixels)["probabilities"][:, 1]
    # A threshold on an image's probability: ONNX Runtime may round it to either map.
    exported.threshold = float(np.sort(positive)[len(positive) // 2])
    onnx_path = tmp_path / "model.onnx"
    export_onnx(exported, InputSpec(size=SIZE), onnx_path)
    assert check_parity(exported, onnx_path, pixels) <= 1e-4
    # A graph whose maps are another class's (its threshold is not the module's) fails.
    exported.threshold = 0.0
    with pytest.raises(ParityError, match="heat map by"):
        check_parity(exported, onnx_path, pixels)


def test_the_ood_score_is_the_mahalanobis_distance() -> None:
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(6, 6))
    train = rng.normal(size=(4000, 6)) @ mixing
    statistics = fit_statistics([train], np.zeros(len(train), dtype=int))
    (stage,) = statistics.stages
    # Five components kept, the sixth direction alone left: its variance is the
    # residual, so the regularised distance is the exact one.
    assert stage.components.shape == (6, 5)
    queries = rng.normal(size=(50, 6)) @ mixing * 3
    inverse = np.linalg.inv(np.cov(train, rowvar=False))
    centred = queries - train.mean(axis=0)
    expected = np.einsum("nd,de,ne->n", centred, inverse, centred)
    with torch.no_grad():
        scores = OodScore(statistics)([torch.from_numpy(queries.astype(np.float32))])
    # Each stage's distance is on the scale of its training median.
    np.testing.assert_allclose(scores.numpy() * stage.scale, expected, rtol=1e-3)
    assert 0.5 < stage.scale / 5.35 < 1.5  # the median of a chi-squared with 6 degrees


def test_the_ood_score_measures_from_the_nearest_class_with_a_shared_covariance() -> None:
    rng = np.random.default_rng(1)
    mixing = rng.normal(size=(6, 6))
    shift = np.array([12.0, 0, 0, 0, 0, 0]) @ mixing
    noise = rng.normal(size=(4000, 6)) @ mixing
    classes = np.repeat([0, 1], 2000)
    train = noise + classes[:, None] * shift
    statistics = fit_statistics([train], classes)
    queries = rng.normal(size=(40, 6)) @ mixing + rng.integers(0, 2, (40, 1)) * shift
    within = noise - noise.mean(axis=0)
    inverse = np.linalg.inv(np.cov(within, rowvar=False))
    means = np.stack([train[classes == c].mean(axis=0) for c in (0, 1)])
    distances = [np.einsum("nd,de,ne->n", queries - m, inverse, queries - m) for m in means]
    expected = np.minimum(*distances)
    with torch.no_grad():
        scores = OodScore(statistics)([torch.from_numpy(queries.astype(np.float32))])
    np.testing.assert_allclose(scores.numpy() * statistics.stages[0].scale, expected, rtol=1e-2)
    # Halfway between the classes lies no training image: far from both class means,
    # though at the centre of a single mean fitted to both.
    halfway = torch.from_numpy(means.mean(axis=0, keepdims=True).astype(np.float32))
    pooled = fit_statistics([train], np.zeros(len(train), dtype=int))
    with torch.no_grad():
        assert float(OodScore(statistics)([halfway])[0]) > 3
        assert float(OodScore(pooled)([halfway])[0]) < 0.5


def test_the_ood_score_is_the_largest_stage_distance() -> None:
    rng = np.random.default_rng(2)
    first, second = rng.normal(size=(2000, 4)), rng.normal(size=(2000, 8))
    statistics = fit_statistics([first, second], np.zeros(2000, dtype=int))
    queries = [rng.normal(size=(20, 4)), rng.normal(size=(20, 8)) * 4]
    tensors = [torch.from_numpy(q.astype(np.float32)) for q in queries]
    with torch.no_grad():
        each = [
            OodScore(fit_statistics([f], np.zeros(2000, dtype=int)))([t])
            for f, t in zip((first, second), tensors, strict=True)
        ]
        both = OodScore(statistics)(tensors)
    np.testing.assert_allclose(both.numpy(), np.maximum(*[e.numpy() for e in each]), rtol=1e-5)
