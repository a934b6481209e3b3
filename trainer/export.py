"""ONNX export, checked against PyTorch, written as a new model-repository version."""

from __future__ import annotations

import tempfile
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch

from skinscan.model_repository import InputSpec, ModelMetadata, ModelVersion, write_version
from trainer.model import ExportedClassifier, SkinLesionClassifier

__all__ = ["ParityError", "check_parity", "export_onnx", "export_to_repository"]

# fp32 ONNX Runtime and PyTorch differ by float rounding in reordered kernels;
# anything larger means the graph computes something else.
MAX_PROBABILITY_DIFFERENCE = 1e-4


class ParityError(AssertionError):
    """The exported graph does not compute what the PyTorch model computes."""


def export_onnx(classifier: SkinLesionClassifier, spec: InputSpec, path: Path) -> None:
    exported = ExportedClassifier(classifier).eval()
    example = torch.zeros((2, spec.size, spec.size, 3), dtype=torch.uint8)
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of the dynamo one, which
        # needs onnxscript; this one still writes the graph we verify below.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            exported,
            (example,),
            str(path),
            input_names=[spec.name],
            output_names=["logits", "probabilities"],
            dynamic_axes={
                spec.name: {0: "batch"},
                "logits": {0: "batch"},
                "probabilities": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )


def check_parity(classifier: SkinLesionClassifier, onnx_path: Path, pixels: np.ndarray) -> float:
    """Runs both on the same batch; returns the largest probability difference."""
    exported = ExportedClassifier(classifier).eval()
    with torch.no_grad():
        _, expected = exported(torch.from_numpy(pixels))
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    _, actual = session.run(None, {session.get_inputs()[0].name: pixels})
    difference = float(np.max(np.abs(actual - expected.numpy())))
    print(
        f"ONNX Runtime vs PyTorch on {len(pixels)} images: max |probability difference| = {difference:.2e}"
    )
    if not difference <= MAX_PROBABILITY_DIFFERENCE:
        raise ParityError(
            f"ONNX export differs from PyTorch by {difference:.2e} (limit {MAX_PROBABILITY_DIFFERENCE})"
        )
    return difference


def export_to_repository(
    classifier: SkinLesionClassifier,
    repository: Path,
    name: str,
    labels: tuple[str, ...],
    positive_label: str,
    decision_threshold: float,
    spec: InputSpec,
    parity_pixels: np.ndarray,
    training: dict[str, Any],
    metrics: dict[str, Any],
) -> ModelVersion:
    classifier = classifier.cpu().eval()
    with tempfile.TemporaryDirectory() as workdir:
        onnx_path = Path(workdir) / "model.onnx"
        export_onnx(classifier, spec, onnx_path)
        difference = check_parity(classifier, onnx_path, parity_pixels)
        metadata = ModelMetadata(
            name=name,
            labels=labels,
            positive_label=positive_label,
            decision_threshold=decision_threshold,
            input=spec,
            training=training,
            metrics={**metrics, "onnx_max_probability_difference": difference},
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        return write_version(repository, onnx_path, metadata)
