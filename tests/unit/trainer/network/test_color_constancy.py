"""Shades of Gray runs inside the exported graph, so training and serving apply it identically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from skinscan_model.metadata import InputSpec
from skinscan_model.preprocessing import load_model_input
from trainer.export.graph import export_onnx, ood_features
from trainer.network.model import ExportedClassifier, ShadesOfGray, build_classifier
from trainer.network.ood import OodScore, fit_statistics


def shades_of_gray_reference(image: np.ndarray, power: float = 6.0) -> np.ndarray:
    """The formula as published (Finlayson and Trezzi 2004), written independently in numpy."""
    x = image.astype(np.float64)
    illuminant = np.power(np.mean(np.power(x / 255.0, power), axis=(0, 1)), 1.0 / power)
    illuminant = illuminant / np.sqrt(np.sum(illuminant**2))
    return np.clip(x / (illuminant * np.sqrt(3)), 0, 255)


def test_matches_the_published_formula_and_removes_a_colour_cast(malignant_jpeg: Path) -> None:
    image = load_model_input(malignant_jpeg.read_bytes(), 64)
    cast = np.clip(image * np.array([1.3, 1.0, 0.7]), 0, 255).astype(np.uint8)
    for pixels in (image, cast):
        ours = ShadesOfGray()(torch.tensor(pixels[None]).float())[0].numpy()
        np.testing.assert_allclose(ours, shades_of_gray_reference(pixels), atol=1e-2)
    corrected = [shades_of_gray_reference(p) for p in (image, cast)]
    # After correction the cast image's channel balance is close to the original's.
    ratio = lambda x: x.reshape(-1, 3).mean(0) / x.mean()  # noqa: E731
    assert np.abs(ratio(corrected[1]) - ratio(corrected[0])).max() < 0.05
    assert np.abs(ratio(cast.astype(float)) - ratio(image.astype(float))).max() > 0.15


def test_the_exported_graph_applies_it(tmp_path: Path, malignant_jpeg: Path) -> None:
    spec = InputSpec(size=32, color_constancy="shades_of_gray")
    classifier = build_classifier("tiny", "none", 2, spec).eval()
    noise = np.random.default_rng(0).integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
    features = ood_features(classifier, noise, len(classifier.backbone.stages))
    ood = OodScore(fit_statistics(features, np.zeros(len(noise), dtype=int)))
    path = tmp_path / "model.onnx"
    export_onnx(ExportedClassifier(classifier, ood), spec, path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    pixels = np.array(load_model_input(malignant_jpeg.read_bytes(), 32)[None])
    (onnx_probabilities,) = session.run(["probabilities"], {"pixels": pixels})
    with torch.no_grad():
        expected = classifier(torch.from_numpy(pixels)).softmax(1).numpy()
    np.testing.assert_allclose(onnx_probabilities, expected, atol=1e-5)
    assert any(node.op_type == "Pow" for node in onnx.load(str(path)).graph.node)
