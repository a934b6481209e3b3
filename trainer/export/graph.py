"""ONNX export (fp32 and int8), each checked against PyTorch before it may be served."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch

from skinscan_model.metadata import InputSpec
from trainer.evaluation.metrics import roc_auc
from trainer.network.model import (
    ACQUISITION_OUTPUT,
    DIAGNOSIS_OUTPUT,
    EXPORTED_OUTPUTS,
    ExportedClassifier,
    SkinLesionClassifier,
)
from trainer.network.ood import stage_features

__all__ = [
    "CALIBRATION_IMAGES",
    "INT8_MAX_AUC_DROP",
    "INT8_MIN_AGREEMENT",
    "ParityError",
    "check_int8_parity",
    "check_parity",
    "comparable_heatmaps",
    "export_onnx",
    "heatmap_correlation",
    "onnx_outputs",
    "onnx_probabilities",
    "ood_features",
    "quantize_int8",
    "torch_outputs",
]

# fp32 ONNX Runtime and PyTorch differ by float rounding in reordered kernels;
# anything larger means the graph computes something else.
MAX_PROBABILITY_DIFFERENCE = 1e-4
# An image this close to a switch of its heat map (ExportedClassifier.heatmap_switches) may
# legitimately get another map from ONNX Runtime: its probability within the difference allowed
# of the threshold, or a hidden unit within this share of the typical unit of its ReLU (about a
# hundred times the rounding measured between the two, 1.1e-6 on a tiny network).
HEATMAP_SWITCH_MARGIN = 1e-4


# int8 rounds every activation; it may move a probability a little, but it
# must not change what the service tells a clinician.
INT8_MIN_AGREEMENT = 0.995
INT8_MAX_AUC_DROP = 0.005
# Quantized: the convolutions and dense layers, where the time goes. The colour
# constancy and normalization at the graph's input stay in float.
INT8_OP_TYPES = ["Conv", "Gemm", "MatMul"]
CALIBRATION_IMAGES = 256  # int8 activation ranges are calibrated on this many training images


class ParityError(AssertionError):
    """The exported graph does not compute what the PyTorch model computes."""


def export_onnx(exported: ExportedClassifier, spec: InputSpec, path: Path) -> None:
    example = torch.zeros((2, spec.size, spec.size, 3), dtype=torch.uint8)
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of the dynamo one, which
        # needs onnxscript; this one still writes the graph we verify below.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            exported.eval(),
            (example,),
            str(path),
            input_names=[spec.name],
            output_names=list(exported.output_names),
            dynamic_axes={name: {0: "batch"} for name in (spec.name, *exported.output_names)},
            opset_version=17,
            dynamo=False,
        )


def torch_outputs(
    exported: ExportedClassifier, pixels: np.ndarray, batch: int = 64
) -> dict[str, np.ndarray]:
    """Every output of the module the graph was exported from, as ONNX Runtime names them."""
    exported.eval()
    parts: list[tuple[torch.Tensor, ...]] = []
    with torch.no_grad():
        for start in range(0, len(pixels), batch):
            parts.append(exported(torch.from_numpy(pixels[start : start + batch])))
    return {
        name: np.concatenate([p[i].numpy() for p in parts])
        for i, name in enumerate(exported.output_names)
    }


def onnx_outputs(
    onnx_path: Path, pixels: np.ndarray, names: tuple[str, ...] = EXPORTED_OUTPUTS, batch: int = 64
) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    parts = [
        session.run(list(names), {input_name: pixels[start : start + batch]})
        for start in range(0, len(pixels), batch)
    ]
    return {name: np.concatenate([p[i] for p in parts]) for i, name in enumerate(names)}


def ood_features(
    classifier: SkinLesionClassifier, pixels: np.ndarray, stages: int, batch: int = 64
) -> list[np.ndarray]:
    """Each of the last `stages` stages' features (N, D_s) that the out-of-distribution
    score is fitted on, as the exported graph computes them."""
    classifier.eval()
    parts: list[list[np.ndarray]] = [[] for _ in range(stages)]
    with torch.no_grad():
        for start in range(0, len(pixels), batch):
            maps = classifier.stage_maps(torch.from_numpy(pixels[start : start + batch]))
            for i, feature_map in enumerate(maps[-stages:]):
                parts[i].append(stage_features(feature_map).numpy())
    return [np.concatenate(p) for p in parts]


def heatmap_correlation(reference: np.ndarray, other: np.ndarray) -> float:
    """Mean Pearson correlation of two stacks of heat maps (constant maps count as agreeing)."""
    a = reference.reshape(len(reference), -1).astype(np.float64)
    b = other.reshape(len(other), -1).astype(np.float64)
    a -= a.mean(axis=1, keepdims=True)
    b -= b.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    both_flat = norms == 0
    correlation = np.where(both_flat, 1.0, (a * b).sum(axis=1) / np.where(both_flat, 1.0, norms))
    return float(correlation.mean())


def onnx_probabilities(onnx_path: Path, pixels: np.ndarray, batch: int = 64) -> np.ndarray:
    probabilities = onnx_outputs(onnx_path, pixels, ("probabilities",), batch)["probabilities"]
    return probabilities.astype(np.float64)


def comparable_heatmaps(exported: ExportedClassifier, pixels: np.ndarray) -> np.ndarray:
    """Which images' heat maps two faithful runtimes must agree on, (N,) bool: those not
    within HEATMAP_SWITCH_MARGIN of a switch of the map (a tiny, barely trained network
    puts images within rounding of its threshold and its ReLU gates often enough that
    comparing them made the check fail now and then on an export that was right)."""
    exported.eval()
    off_switches = []
    for start in range(0, len(pixels), 64):
        to_threshold, to_gate = exported.heatmap_switches(
            torch.from_numpy(pixels[start : start + 64])
        )
        off_switches.append(
            (
                (to_threshold > MAX_PROBABILITY_DIFFERENCE) & (to_gate > HEATMAP_SWITCH_MARGIN)
            ).numpy()
        )
    return np.concatenate(off_switches)


def check_parity(exported: ExportedClassifier, onnx_path: Path, pixels: np.ndarray) -> float:
    """Runs both on the same batch; returns the largest probability difference.

    The out-of-distribution score and the heat map must agree too: the first
    to float rounding, the second to one grey level (a value on a rounding
    boundary may round either way) on every image not on a switch of its map
    (comparable_heatmaps), and those must be at least half of them.
    """
    expected = torch_outputs(exported, pixels)
    actual = onnx_outputs(onnx_path, pixels, exported.output_names)
    difference = max(
        float(np.max(np.abs(actual[name] - expected[name])))
        for name in ("probabilities", DIAGNOSIS_OUTPUT, ACQUISITION_OUTPUT)
        if name in expected
    )
    ood = float(
        np.max(
            np.abs(actual["ood_score"] - expected["ood_score"])
            / (1 + np.abs(expected["ood_score"]))
        )
    )
    comparable = comparable_heatmaps(exported, pixels)
    levels = np.abs(actual["heatmap"].astype(int) - expected["heatmap"].astype(int))
    heatmap = int(levels[comparable].max()) if comparable.any() else 0
    on_switch = int(np.count_nonzero(~comparable))
    print(
        f"ONNX Runtime vs PyTorch on {len(pixels)} images: max |probability difference| = "
        f"{difference:.2e}, out-of-distribution score {ood:.1e} (relative), heat map {heatmap} "
        f"levels ({on_switch} on a switch of the map, not compared)"
    )
    if (
        not difference <= MAX_PROBABILITY_DIFFERENCE
        or not ood <= 1e-3
        or heatmap > 1
        or on_switch > len(pixels) // 2
    ):
        raise ParityError(
            f"ONNX export differs from PyTorch: probabilities by {difference:.2e} (limit "
            f"{MAX_PROBABILITY_DIFFERENCE}), out-of-distribution score by {ood:.1e} (limit 1e-3), "
            f"heat map by {heatmap} levels (limit 1) on {len(pixels) - on_switch} of "
            f"{len(pixels)} images (the others lie within rounding of the threshold or of a "
            "ReLU of the decision head, where their map may switch; at most half may)"
        )
    return difference


class _CalibrationImages:
    """ONNX Runtime's calibration reader over real training images, in batches."""

    def __init__(self, input_name: str, pixels: np.ndarray, batch: int = 16) -> None:
        self._batches: Iterator[np.ndarray] = (
            pixels[i : i + batch] for i in range(0, len(pixels), batch)
        )
        self._name = input_name

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {self._name: batch}


def quantize_int8(fp32_path: Path, int8_path: Path, calibration_pixels: np.ndarray) -> None:
    """Static QDQ quantization: int8 weights per channel, uint8 activations calibrated on real images."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = int8_path.with_suffix(".prepared.onnx")
    # Shape inference and graph optimization (BatchNorm folded into the
    # convolutions) first, as ONNX Runtime recommends before quantizing.
    quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
    import onnx

    # The first convolution (it sees the colour-normalized image, whose range
    # int8 resolves worst) and the dense head (which decides the output) stay
    # in float: a few percent of the compute, and most of the int8 decision
    # flips measured on the tiny test network went away with them.
    nodes = onnx.load(str(prepared)).graph.node
    kept_in_float = [n.name for n in nodes if n.op_type in ("Gemm", "MatMul")]
    kept_in_float.append(next(n.name for n in nodes if n.op_type == "Conv"))
    try:
        quantize_static(
            str(prepared),
            str(int8_path),
            _CalibrationImages("pixels", calibration_pixels),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QUInt8,
            op_types_to_quantize=INT8_OP_TYPES,
            nodes_to_exclude=kept_in_float,
            calibrate_method=CalibrationMethod.MinMax,
        )
    finally:
        prepared.unlink(missing_ok=True)


def check_int8_parity(
    reference: np.ndarray,
    quantized: np.ndarray,
    labels: np.ndarray,
    positive: int,
    threshold: float,
    held_out: np.ndarray,
) -> dict[str, Any]:
    """Compares int8 with PyTorch probabilities: decisions, and ROC-AUC on held-out images.

    `held_out` selects the rows (validation and test) on which the AUC is
    meaningful; agreement is measured on every row given. The report says
    whether int8 may be served (`accepted`) and, when not, why (`refused`).
    """
    decided_reference = reference[:, positive] >= threshold
    decided_quantized = quantized[:, positive] >= threshold
    agreement = float(np.mean(decided_reference == decided_quantized))
    argmax_agreement = float(np.mean(reference.argmax(1) == quantized.argmax(1)))
    positives = labels[held_out] == positive
    auc_reference = roc_auc(positives, reference[held_out, positive])
    auc_quantized = roc_auc(positives, quantized[held_out, positive])
    report: dict[str, Any] = {
        "images": len(labels),
        "decision_agreement": agreement,
        "argmax_agreement": argmax_agreement,
        "held_out_images": int(held_out.sum()),
        "roc_auc_pytorch": auc_reference,
        "roc_auc_int8": auc_quantized,
        "roc_auc_drop": auc_reference - auc_quantized,
        "max_probability_difference": float(np.max(np.abs(reference - quantized))),
    }
    print(
        f"int8 vs PyTorch on {len(labels)} images: decisions agree on {agreement:.2%} "
        f"(argmax {argmax_agreement:.2%}); held-out ROC-AUC {auc_reference:.4f} -> "
        f"{auc_quantized:.4f}; max |probability difference| {report['max_probability_difference']:.3f}"
    )
    report["accepted"] = (
        agreement >= INT8_MIN_AGREEMENT and report["roc_auc_drop"] <= INT8_MAX_AUC_DROP
    )
    if not report["accepted"]:
        report["refused"] = (
            f"int8 changes too much: decisions agree on {agreement:.2%} (need "
            f"{INT8_MIN_AGREEMENT:.1%}), ROC-AUC drops by {report['roc_auc_drop']:.4f} (limit "
            f"{INT8_MAX_AUC_DROP})"
        )
    return report
