"""From a trained network to the graph a version serves: calibration and threshold, fp32 and
int8 ONNX with their parity checks, the acquisition gate and the out-of-distribution level.

The temperature and the threshold are fitted on validation data only.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from skinscan_model.acquisition import DERMOSCOPY
from trainer.config import TrainConfig
from trainer.data.acquisition_data import GATE_SPLIT_FILE, GateSet, gate_set, source_name
from trainer.data.samples import LabelledImages
from trainer.evaluation.calibration import (
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    softmax,
    threshold_for_sensitivity,
)
from trainer.export.acquisition_export import served_gate
from trainer.export.acquisition_fit import GateFit, collection_of, fit_gate
from trainer.export.graph import (
    CALIBRATION_IMAGES,
    check_int8_parity,
    check_parity,
    export_onnx,
    heatmap_correlation,
    onnx_outputs,
    ood_features,
    quantize_int8,
    torch_outputs,
)
from trainer.export.inherited_quantization import inherit_quantization
from trainer.export.ood_fit import (
    OOD_PASS_RATE,
    OodFit,
    fit_ood,
    ood_classes,
    pass_rates,
    refusal_level,
)
from trainer.network.model import ExportedClassifier
from trainer.network.ood import OOD_STAGES, OodScore
from trainer.run import FP32_FILE, Calibration, Export, Trained
from trainer.training.objective import predict_logits

__all__ = ["MADE_FOLDER", "calibrate", "export_version", "quality_pixels"]

MADE_FOLDER = "gate-made"  # trainer.data.made_negatives' images, below the work folder


def calibrate(trained: Trained) -> Calibration:
    """Temperature and threshold, both from validation data only."""
    config, images = trained.config, trained.images
    classifier = trained.classifier

    def logits_of(part: LabelledImages) -> np.ndarray:
        return predict_logits(classifier, torch.from_numpy(part.pixels), 64).numpy()

    # The decision's columns first; a diagnosis head's follow.
    val_all = logits_of(images.validation)
    test_all = logits_of(images.test) if len(images.test.labels) else val_all[:0]
    val_logits, test_logits = val_all[:, : classifier.classes], test_all[:, : classifier.classes]
    inherited = trained.inherited
    temperature = (
        inherited.temperature
        if inherited is not None
        else fit_temperature(val_logits, images.validation.labels)
    )
    report: dict[str, Any] = {"method": "temperature scaling", "temperature": temperature}
    if inherited is not None:
        report["inherited_from"] = f"{inherited.parent.name} version {inherited.parent.version}"
    for name, logits, labels in (
        ("validation", val_logits, images.validation.labels),
        ("test", test_logits, images.test.labels),
    ):
        if len(labels) == 0:
            continue
        report[name] = {
            "nll_before": negative_log_likelihood(logits, labels),
            "nll_after": negative_log_likelihood(logits, labels, temperature),
            "ece_before": expected_calibration_error(softmax(logits), labels),
            "ece_after": expected_calibration_error(softmax(logits, temperature), labels),
        }
    validation = report["validation"]
    print(
        f"temperature scaling: T = {temperature:.3f}; validation NLL {validation['nll_before']:.4f} -> "
        f"{validation['nll_after']:.4f}, ECE {validation['ece_before']:.4f} -> {validation['ece_after']:.4f}"
    )
    if inherited is not None:
        threshold = inherited.threshold
        print(f"decision threshold {threshold:.4f}, temperature {temperature:.3f}: the parent's")
    else:
        threshold = threshold_for_sensitivity(
            softmax(val_logits, temperature)[:, trained.positive],
            images.validation.labels == trained.positive,
            config.target_sensitivity,
        )
        print(
            f"decision threshold {threshold:.4f}: {config.positive_label} sensitivity >= "
            f"{config.target_sensitivity:.0%} on validation"
        )
    diagnosis_temperature = 1.0
    if inherited is not None and inherited.diagnosis_temperature is not None:
        diagnosis_temperature = inherited.diagnosis_temperature
        print(f"diagnosis temperature {diagnosis_temperature:.3f}: the parent's")
    elif classifier.diagnosis_head is not None and images.validation.has_diagnoses:
        known = images.validation.diagnoses >= 0
        diagnosis_logits = val_all[known, classifier.classes :]
        diagnoses = images.validation.diagnoses[known]
        diagnosis_temperature = fit_temperature(diagnosis_logits, diagnoses)
        report["diagnosis"] = {
            "temperature": diagnosis_temperature,
            "validation_images": int(known.sum()),
            "nll_before": negative_log_likelihood(diagnosis_logits, diagnoses),
            "nll_after": negative_log_likelihood(
                diagnosis_logits, diagnoses, diagnosis_temperature
            ),
        }
        print(f"diagnosis temperature scaling: T = {diagnosis_temperature:.3f}")
    return Calibration(temperature, threshold, report, diagnosis_temperature)


def export_version(trained: Trained, calibration: Calibration, work: Path) -> Export:
    """fp32 ONNX checked against PyTorch; then int8, served only if its parity holds.

    A refused int8 graph is no failure of the run: the fp32 graph is served,
    and the metadata and model card say why.
    """
    classifier, images, config = trained.classifier, trained.images, trained.config
    prepared = trained.prepared
    train_sources = prepared.part_sources("train")
    stages = min(OOD_STAGES, len(classifier.backbone.stages))
    validation_sources = prepared.part_sources("validation")
    ood = fit_ood(
        ood_features(classifier, images.train.pixels, stages),
        ood_classes(images.train.labels, images.train.diagnoses, train_sources),
        train_sources,
        ood_features(classifier, images.validation.pixels, stages),
        validation_sources,
        [str(root) for root in prepared.roots],
    )
    gate = _fit_gate(trained, work)
    exported = ExportedClassifier(
        classifier,
        OodScore(ood.statistics),
        calibration.temperature,
        trained.positive,
        calibration.threshold,
        calibration.diagnosis_temperature,
        gate.head if gate is not None else None,
    )
    fp32 = work / FP32_FILE
    export_onnx(exported, trained.spec, fp32)
    parity_pixels = images.validation.pixels[:64]
    if gate is not None:
        # The gate's outputs are compared on negatives too, not only on dermoscopy.
        parity_pixels = np.concatenate([parity_pixels, gate.validation.pixels[-32:]])
    difference = check_parity(exported, fp32, parity_pixels)
    if not config.quantize:
        export = Export(fp32, "fp32", fp32, difference, None)
        return _with_gate(_with_ood_threshold(export, trained, ood), trained, gate)
    int8 = work / "model.int8.onnx"
    train_pixels = images.train.pixels
    chosen = np.random.default_rng(config.seed).choice(
        len(train_pixels), min(CALIBRATION_IMAGES, len(train_pixels)), replace=False
    )
    quantize_int8(fp32, int8, train_pixels[np.sort(chosen)])
    inherited = trained.inherited
    if inherited is not None and inherited.parent.metadata.precision == "int8":
        taken = inherit_quantization(inherited.parent.onnx_path, int8)
        print(f"int8: {taken} quantized tensors taken from the parent's graph as they were")
    parts = (images.train, images.validation, images.test)
    everything = np.concatenate([p.pixels for p in parts])
    labels = np.concatenate([p.labels for p in parts])
    held_out = np.arange(len(labels)) >= len(images.train.labels)
    reference = torch_outputs(exported, everything)
    quantized = onnx_outputs(int8, everything)
    parity = check_int8_parity(
        reference["probabilities"],
        quantized["probabilities"].astype(np.float64),
        labels,
        trained.positive,
        calibration.threshold,
        held_out,
    )
    parity["heatmap_correlation"] = heatmap_correlation(reference["heatmap"], quantized["heatmap"])
    if not parity["accepted"]:
        print(f"serving fp32: {parity['refused']}")
        export = Export(fp32, "fp32", fp32, difference, parity)
    else:
        export = Export(int8, "int8", fp32, difference, parity)
    return _with_gate(_with_ood_threshold(export, trained, ood), trained, gate)


def _fit_gate(trained: Trained, work: Path) -> GateFit | None:
    """The acquisition head, fitted on the frozen network's features (trainer.export.acquisition_fit),
    where negatives were given; its split is written beside the version's."""
    config = trained.config
    if config.negatives is None:
        return None
    gate = gate_set(
        trained.prepared,
        config.gate_dermoscopy,
        config.negatives,
        config.seed,
        made=(work / MADE_FOLDER, config.gate_made),
    )
    print("acquisition gate images:\n" + "\n".join(gate.describe()))
    _write_gate_split(gate, config, work / GATE_SPLIT_FILE)
    classifier = trained.classifier
    return fit_gate(classifier, gate, trained.spec.size, config.seed, config.gate_draws)


def _write_gate_split(gate: GateSet, config: TrainConfig, path: Path) -> None:
    assert config.negatives is not None
    roots = {str(r): r for r in (*config.data, *config.gate_dermoscopy, config.negatives)}
    # Made images are not kept: the same seed and count make them again.
    roots[f"trainer.data.made_negatives seed {config.seed}"] = path.parent / MADE_FOLDER
    gate.write(path, roots)


def quality_pixels(trained: Trained, export: Export) -> np.ndarray:
    pixels = trained.images.train.pixels
    if export.gate_dermoscopy is None or not len(export.gate_dermoscopy):
        return pixels
    return np.concatenate([pixels, export.gate_dermoscopy])


def _with_gate(export: Export, trained: Trained, gate: GateFit | None) -> Export:
    """The gate's level and rates on the served graph; the out-of-distribution score retired
    where it no longer earns its place (trainer.export.acquisition_export)."""
    if gate is None:
        return export
    ood_level = export.ood["threshold"] if export.ood else None
    decision_sources = {source_name(root) for root in trained.prepared.roots}
    level, report = served_gate(export.served, gate, ood_level, decision_sources)
    print(f"acquisition level {level:.4f} (dermoscopy probability)")
    for part in ("validation", "test"):
        for source, row in report[part].items():
            measured = (
                f"{row['pass_rate']:.1%} pass"
                if "pass_rate" in row
                else f"{row['refusal_rate']:.1%} refused, {row['own_reason_rate']:.1%} "
                "with their own reason"
            )
            print(f"  {part} {source} ({row['images']}): {measured}")
    ood = export.ood
    if ood is not None and not report["ood"]["kept"]:
        print("out-of-distribution score retired: the acquisition gate does better alone")
        ood = {**ood, "retired": report["ood"]}
    extra = gate.train.classes == DERMOSCOPY
    extra &= np.array([collection_of(s) not in decision_sources for s in gate.train.sources])
    return replace(export, gate=report, ood=ood, gate_dermoscopy=gate.train.pixels[extra])


def _with_ood_threshold(export: Export, trained: Trained, ood: OodFit) -> Export:
    """The out-of-distribution level, read off the served graph's validation scores.

    At each source's 99th percentile (the highest), times the leave-one-source-
    out margin (trainer.export.ood_fit); the training images score lower than
    held-out ones, and would set it too tight.
    """
    prepared = trained.prepared
    held_out = trained.images.validation
    sources = prepared.part_sources("validation")
    if not len(held_out.labels):
        held_out, sources = trained.images.train, prepared.part_sources("train")
    names = [str(root) for root in prepared.roots]
    scores = onnx_outputs(export.served, held_out.pixels, ("ood_score",))["ood_score"]
    threshold, passing = refusal_level(scores, sources, names, ood.margin)
    train_scores = onnx_outputs(export.served, trained.images.train.pixels, ("ood_score",))[
        "ood_score"
    ]
    test_passing = {}
    if len(trained.images.test.labels):
        test_scores = onnx_outputs(export.served, trained.images.test.pixels, ("ood_score",))[
            "ood_score"
        ]
        test_passing = pass_rates(test_scores, prepared.part_sources("test"), names, threshold)
    statistics = ood.statistics
    report = {
        "method": (
            f"Mahalanobis distance to the nearest of {statistics.classes} class means (shared "
            f"probabilistic-PCA covariance) of the pooled features of each of the last "
            f"{len(statistics.stages)} stages, each divided by its training median; the largest"
        ),
        "stages": len(statistics.stages),
        "components": [int(s.components.shape[1]) for s in statistics.stages],
        "classes": statistics.classes,
        "fitted_on_images": statistics.images,
        "threshold": threshold,
        "threshold_quantile": OOD_PASS_RATE,
        "left_out_margin": ood.margin,
        "leave_one_source_out": ood.leave_one_source_out,
        **passing,
        "test": test_passing,
        "validation_images": len(scores),
        "validation_pass_rate": float(np.mean(scores <= threshold)),
        "training_pass_rate": float(np.mean(train_scores <= threshold)),
    }
    print(
        f"out-of-distribution threshold {threshold:.2f} (margin {ood.margin:.2f}): "
        f"{report['validation_pass_rate']:.1%} of {len(scores)} validation and "
        f"{report['training_pass_rate']:.1%} of training images pass"
    )
    for check in ood.leave_one_source_out:
        print(
            f"  fitted on {check['fitted_on']} alone: {check['pass_rate_at_own_level']:.1%} of "
            f"{check['left_out']} passes its level; a margin of "
            f"{check['margin_for_97_percent']:.2f} lets 97% pass"
        )
    return replace(export, ood=report)
