"""After training: calibrate, choose the threshold, export fp32 and int8, evaluate, write the version.

Order matters. The temperature and the threshold are fitted on validation
data only; the test split is touched once, at the end, to report what the
served graph does on images that influenced nothing.
"""

from __future__ import annotations

import platform
import tempfile
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from skinscan_model.acquisition import DERMOSCOPY
from skinscan_model.diagnoses import DIAGNOSIS_CODES
from skinscan_model.metadata import InputSpec, ModelMetadata
from skinscan_model.quality import derive_limits
from skinscan_model.store import LocalModelStore, ModelVersion
from trainer.card.curve import refresh_curve_page, validation_figures
from trainer.card.model_card import MODEL_CARD_FILE, render_model_card
from trainer.card.plots import plot_training_curves
from trainer.card.trials import record_trial
from trainer.config import TrainConfig
from trainer.data.acquisition_data import GATE_SPLIT_FILE, GateSet, gate_set, source_name
from trainer.data.prepare import PreparedData
from trainer.data.samples import LabelledImages
from trainer.evaluate import SPLIT_FILE, format_report, score
from trainer.evaluation.calibration import (
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    softmax,
    threshold_for_sensitivity,
)
from trainer.evaluation.heatmap_check import SHEET_IMAGES, heatmap_report, save_overlay_sheet
from trainer.evaluation.metrics import multiclass_report
from trainer.evaluation.versus_parent import HeldOutScores, compare_with_parent, format_comparison
from trainer.export.acquisition_export import served_gate
from trainer.export.acquisition_fit import GateFit, collection_of, fit_gate
from trainer.export.assessability import assessability_report, format_assessability
from trainer.export.graph import (
    CALIBRATION_IMAGES,
    INT8_MIN_AGREEMENT,
    ParityError,
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
from trainer.export.output_gates import withheld_outputs
from trainer.network.model import DIAGNOSIS_OUTPUT, ExportedClassifier, SkinLesionClassifier
from trainer.network.ood import OOD_STAGES, OodScore
from trainer.training.loop import FitResult, predict_logits

__all__ = [
    "CANDIDATES",
    "FP32_FILE",
    "Continued",
    "Inherited",
    "SplitImages",
    "Trained",
    "finalize",
]

FP32_FILE = "model.fp32.onnx"
# Under the checkpoint folder: where a version that did not beat its parent is kept.
CANDIDATES = "candidates"
MADE_FOLDER = "gate-made"  # trainer.data.made_negatives' images, below the work folder
HEATMAP_SHEET = "heatmaps.png"
FIGURES = ("roc.png", "confusion_matrix.png", "reliability.png")


@dataclass(frozen=True)
class SplitImages:
    """The decoded images of each part of the split, at the trained size."""

    train: LabelledImages
    validation: LabelledImages
    test: LabelledImages

    def held_out(self) -> dict[str, LabelledImages]:
        """The parts that are evaluated, when they hold any image."""
        parts = {"validation": self.validation, "test": self.test}
        return {name: images for name, images in parts.items() if len(images.labels)}


@dataclass(frozen=True)
class Inherited:
    """What a version trained on top of another keeps of it (trainer.init_from)."""

    parent: ModelVersion
    temperature: float
    threshold: float
    lineage: dict[str, Any]
    # The parent's diagnosis temperature, where its diagnosis head is kept as it was (None:
    # the head was trained anew, and its temperature is fitted).
    diagnosis_temperature: float | None = None


@dataclass(frozen=True)
class Continued:
    """A version whose whole network trained on from another (trainer.continue_training): a
    new model in full, published only if it beats its parent (trainer.evaluation.versus_parent)."""

    parent: ModelVersion
    lineage: dict[str, Any]
    # The validation images at the parent's input size, when the run trained at another.
    parent_validation: np.ndarray | None = None


@dataclass(frozen=True)
class Trained:
    """A trained network and what its export and model card need to know."""

    config: TrainConfig
    classifier: SkinLesionClassifier
    spec: InputSpec
    prepared: PreparedData
    images: SplitImages
    history: FitResult
    pretrain_history: FitResult | None
    seconds: float
    device: str
    inherited: Inherited | None = None
    continued: Continued | None = None

    @property
    def lineage(self) -> dict[str, Any] | None:
        if self.inherited is not None:
            return self.inherited.lineage
        return self.continued.lineage if self.continued is not None else None

    @property
    def positive(self) -> int:
        """The class index of the label the threshold is for."""
        return self.prepared.dataset.classes.index(self.config.positive_label)


@dataclass(frozen=True)
class Calibration:
    temperature: float
    threshold: float
    report: dict[str, Any]
    diagnosis_temperature: float = 1.0


@dataclass(frozen=True)
class Export:
    served: Path
    precision: str
    fp32: Path
    fp32_difference: float
    int8_parity: dict[str, Any] | None
    ood: dict[str, Any] | None = None
    # The acquisition gate's report (trainer.export.acquisition_export), where one was fitted.
    gate: dict[str, Any] | None = None
    # Training dermoscopy of collections only the gate learnt from (acral/): the quality
    # limits are read off every dermoscopy source, not only the decision's.
    gate_dermoscopy: np.ndarray | None = None


def _calibrate(trained: Trained) -> Calibration:
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


def _export(trained: Trained, calibration: Calibration, work: Path) -> Export:
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


def _quality_pixels(trained: Trained, export: Export) -> np.ndarray:
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


def _evaluate(trained: Trained, export: Export, threshold: float, work: Path) -> dict[str, Any]:
    """What the service will compute: the served graph, on validation and test.

    The decision pooled over every source, then source by source (a model
    excellent on one collection may over-call nevi on another), and the
    diagnosis head on the images that have a diagnosis.
    """
    prepared, config = trained.prepared, trained.config
    diagnosing = trained.classifier.diagnosis_head is not None
    names = ("probabilities", *((DIAGNOSIS_OUTPUT,) if diagnosing else ()))
    evaluations: dict[str, Any] = {}
    for part, images in trained.images.held_out().items():
        outputs = onnx_outputs(export.served, images.pixels, names)
        probabilities = outputs["probabilities"].astype(np.float64)
        evaluations[part] = score(
            probabilities,
            images.labels,
            prepared.dataset.classes,
            config.positive_label,
            threshold,
            work / f"{part}-plots",
            f"{part} split",
        )
        print(f"{export.precision} model on the {part} split:\n{format_report(evaluations[part])}")
        sources = prepared.part_sources(part)
        if len(prepared.roots) > 1:
            by_source = evaluations.setdefault("by_source", {})[part] = {}
            for index, root in enumerate(prepared.roots):
                mine = sources == index
                if not mine.any():
                    continue
                by_source[str(root)] = score(
                    probabilities[mine],
                    images.labels[mine],
                    prepared.dataset.classes,
                    config.positive_label,
                    threshold,
                    None,
                    f"{part} split, {root}",
                )
                print(f"  {root}:\n{format_report(by_source[str(root)])}")
        known = images.diagnoses >= 0
        if diagnosing and known.any():
            report = multiclass_report(
                outputs[DIAGNOSIS_OUTPUT][known], images.diagnoses[known], DIAGNOSIS_CODES
            )
            evaluations.setdefault("diagnosis", {})[part] = report
            accuracy = report["balanced_accuracy"]
            print(
                f"diagnosis head on the {part} split ({report['images']} images): balanced "
                f"accuracy {accuracy['value']:.3f} [{accuracy['ci95'][0]:.3f}, {accuracy['ci95'][1]:.3f}]"
            )
    return evaluations


def _parent_parity(trained: Trained, export: Export, threshold: float) -> dict[str, Any]:
    """The new graph decides as its parent's did: on every held-out image, both served graphs.

    The decision path was not trained and its int8 quantization is the parent's
    (trainer.export.inherited_quantization), so it should compute as before; a version
    whose decisions moved is not published.
    """
    assert trained.inherited is not None
    parent = trained.inherited.parent
    pixels = np.concatenate([images.pixels for images in trained.images.held_out().values()])
    theirs = onnx_outputs(parent.onnx_path, pixels, ("probabilities",))["probabilities"]
    ours = onnx_outputs(export.served, pixels, ("probabilities",))["probabilities"]
    positive = trained.positive
    agreement = float(
        np.mean((theirs[:, positive] >= threshold) == (ours[:, positive] >= threshold))
    )
    difference = np.abs(theirs[:, positive].astype(np.float64) - ours[:, positive])
    report = {
        "parent": f"{parent.name} version {parent.version}",
        "images": len(pixels),
        "decision_agreement": agreement,
        "max_probability_difference": float(difference.max()),
        "mean_probability_difference": float(difference.mean()),
    }
    print(
        f"decisions agree with {report['parent']} on {agreement:.2%} of {len(pixels)} held-out "
        f"images; |probability difference| mean {report['mean_probability_difference']:.4f}, "
        f"max {report['max_probability_difference']:.4f}"
    )
    if agreement < INT8_MIN_AGREEMENT:
        raise ParityError(
            f"the new graph decides differently from {report['parent']} on "
            f"{1 - agreement:.2%} of held-out images (limit {1 - INT8_MIN_AGREEMENT:.1%}), "
            "though its decision path was not trained"
        )
    return report


def _heatmaps(trained: Trained, export: Export, sheet: Path) -> dict[str, Any]:
    """Whether the served heat maps peak on the lesion, per source, and a sheet of overlays."""
    images, prepared = trained.images.validation, trained.prepared
    if not len(images.labels):
        return {}
    heatmaps = onnx_outputs(export.served, images.pixels, ("heatmap",))["heatmap"]
    report = heatmap_report(images.pixels, heatmaps)
    sources = prepared.part_sources("validation")
    if len(prepared.roots) > 1:
        report["by_source"] = {
            str(root): heatmap_report(images.pixels[sources == i], heatmaps[sources == i])
            for i, root in enumerate(prepared.roots)
            if (sources == i).any()
        }
    chosen = np.random.default_rng(trained.config.seed).choice(
        len(heatmaps), min(SHEET_IMAGES, len(heatmaps)), replace=False
    )
    save_overlay_sheet(images.pixels[chosen], heatmaps[chosen], sheet)
    print(
        f"heat map peak on the lesion for {report['peak_on_lesion_rate']:.1%} of "
        f"{report['images']} validation images"
    )
    return report


def _hardware(device: str) -> str:
    if device == "cpu":
        return f"{platform.machine()}, {torch.get_num_threads()} CPU threads"
    return torch.cuda.get_device_name(0)


def _training_record(trained: Trained) -> dict[str, Any]:
    """How the model was trained, for its metadata and card."""
    prepared, history, device = trained.prepared, trained.history, trained.device
    pretraining = trained.pretrain_history.history if trained.pretrain_history else []
    return {
        "config": trained.config.describe(),
        "classes": list(prepared.dataset.classes),
        "data": prepared.dataset.describe(),
        "split": {
            part: len(getattr(prepared.split, part)) for part in ("train", "validation", "test")
        },
        "best_epoch": history.best_epoch,
        "averaged_epochs": history.averaged_epochs,
        "stopped_early": history.stopped_early,
        "history": [asdict(r) for r in history.history],
        "pretraining_history": [asdict(r) for r in pretraining],
        "seconds": round(sum(r.seconds for r in [*history.history, *pretraining]), 1),
        "wall_seconds_this_run": round(trained.seconds, 1),
        "device": device,
        "hardware": _hardware(device),
        "torch": torch.__version__,
        **({"lineage": trained.lineage} if trained.lineage is not None else {}),
    }


def _versus_parent(trained: Trained, export: Export, threshold: float) -> dict[str, Any]:
    """This version against its parent on the validation images both score: the publishing
    rule's comparison and verdict."""
    assert trained.continued is not None
    parent = trained.continued.parent
    prepared, images = trained.prepared, trained.images.validation
    ours = onnx_outputs(export.served, images.pixels, ("probabilities",))["probabilities"]
    parent_pixels = trained.continued.parent_validation
    theirs = onnx_outputs(
        parent.onnx_path,
        images.pixels if parent_pixels is None else parent_pixels,
        ("probabilities",),
    )["probabilities"]
    positive = trained.positive
    comparison = compare_with_parent(
        HeldOutScores(
            positives=images.labels == positive,
            child=ours[:, positive].astype(np.float64),
            parent=theirs[:, positive].astype(np.float64),
            groups=np.array([prepared.groups[i] for i in prepared.split.validation]),
            sources=prepared.part_sources("validation"),
            source_names=tuple(str(root) for root in prepared.roots),
        ),
        threshold,
        parent.metadata.decision_threshold,
    )
    comparison["parent"] = f"{parent.name} version {parent.version}"
    for line in format_comparison(comparison, comparison["parent"], "validation"):
        print(line)
    return comparison


def _curve_row(trained: Trained, evaluations: dict[str, Any], published: bool) -> dict[str, Any]:
    """This version's row of the lineage curve, which its descendants carry on."""
    assert trained.continued is not None
    lineage = trained.continued.lineage
    return {
        "version": None,  # this one: numbered by its child, once it has one
        **{
            key: lineage[key]
            for key in (
                "run",
                "trained",
                "recipe",
                "minutes",
                "cumulative_minutes",
                "cumulative_complete",
            )
        },
        "hardware": _hardware(trained.device),
        "published": published,
        "versus_parent": {
            key: evaluations["versus_parent"]["pooled"][key] for key in ("difference", "ci95")
        },
        **validation_figures(evaluations),
    }


def _repository(trained: Trained, published: bool) -> Path:
    """Where the version goes: the model repository, or beside the checkpoints when it did
    not beat its parent (the repository's newest version stays the served one)."""
    config = trained.config
    if published:
        return config.out
    return (config.checkpoint_dir or Path("runs") / config.model_name) / CANDIDATES


def finalize(trained: Trained) -> ModelVersion:
    config = trained.config
    # Calibration, export and parity run on the CPU in eval mode, as ONNX Runtime will.
    trained.classifier.cpu().eval()
    calibration = _calibrate(trained)
    with tempfile.TemporaryDirectory() as workdir:
        work = Path(workdir)
        export = _export(trained, calibration, work)
        evaluations = _evaluate(trained, export, calibration.threshold, work)
        if trained.inherited is not None:
            evaluations["parent_parity"] = _parent_parity(trained, export, calibration.threshold)
        published = True
        if trained.continued is not None:
            evaluations["versus_parent"] = _versus_parent(trained, export, calibration.threshold)
            published = evaluations["versus_parent"]["publish"]
            trained.continued.lineage["curve"].append(_curve_row(trained, evaluations, published))
        evaluations["heatmap"] = _heatmaps(trained, export, work / HEATMAP_SHEET)
        diagnosing = trained.classifier.diagnosis_head is not None
        withheld = withheld_outputs(
            evaluations,
            export.ood is not None,
            diagnosing,
            config.min_heatmap_on_lesion,
            config.min_diagnosis_accuracy,
        )
        for output, reason in withheld.items():
            print(f"not serving the {output}: {reason}")
        metadata = ModelMetadata(
            name=config.model_name,
            labels=trained.prepared.dataset.classes,
            positive_label=config.positive_label,
            decision_threshold=calibration.threshold,
            input=trained.spec,
            architecture=config.architecture,
            precision=export.precision,
            training=_training_record(trained),
            metrics={
                **evaluations,
                "calibration": calibration.report,
                "onnx_fp32_max_probability_difference": export.fp32_difference,
                "int8_parity": export.int8_parity,
                "out_of_distribution": export.ood,
                "acquisition": export.gate,
                "withheld_outputs": withheld,
            },
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            quality=derive_limits(_quality_pixels(trained, export)),
            ood_threshold=export.ood["threshold"]
            if export.ood and "retired" not in export.ood
            else None,
            acquisition_level=export.gate["level"] if export.gate else None,
            heatmap_output=None if "heatmap" in withheld else ModelMetadata.heatmap_output,
            diagnoses=DIAGNOSIS_CODES if diagnosing and "diagnosis" not in withheld else (),
        )
        # What the service will refuse, through its own rules, on images that chose nothing.
        prepared = trained.prepared
        validation_sources = prepared.part_sources("validation")
        assessability = assessability_report(
            metadata,
            export.served,
            list(trained.images.validation.paths),
            {
                str(root): list(np.flatnonzero(validation_sources == index))
                for index, root in enumerate(prepared.roots)
                if (validation_sources == index).any()
            },
        )
        print(format_assessability(assessability))
        metadata = replace(metadata, metrics={**metadata.metrics, "assessability": assessability})
        extra = {
            SPLIT_FILE: work / SPLIT_FILE,
            MODEL_CARD_FILE: work / MODEL_CARD_FILE,
            "training_curves.png": work / "training_curves.png",
        }
        trained.prepared.write_split(extra[SPLIT_FILE])
        if (work / GATE_SPLIT_FILE).is_file():
            extra[GATE_SPLIT_FILE] = work / GATE_SPLIT_FILE
        extra[MODEL_CARD_FILE].write_text(render_model_card(metadata))
        phases = {
            "pretraining": trained.pretrain_history.history if trained.pretrain_history else [],
            "training": trained.history.history,
        }
        if any(phases.values()):
            plot_training_curves(phases, extra["training_curves.png"])
        else:  # --gate-only trains no epoch
            del extra["training_curves.png"]
        if (work / HEATMAP_SHEET).is_file():
            extra[HEATMAP_SHEET] = work / HEATMAP_SHEET
        for part in trained.images.held_out():
            for figure in FIGURES:
                extra[f"{part}_{figure}"] = work / f"{part}-plots" / figure
        if export.served != export.fp32:
            extra[FP32_FILE] = export.fp32
        version = LocalModelStore(_repository(trained, published)).publish(
            export.served, metadata, extra
        )
    if published:
        print(
            f"wrote {version.name} version {version.version} ({export.precision}) to {version.path}"
        )
        # The new version starts the repository's curve page afresh (trainer.card.curve).
        refresh_curve_page(LocalModelStore(config.out), version.name)
    else:
        assert config.init_from is not None
        # What it tried is kept with the parent, for the card of the next version from it.
        trial = record_trial(config.init_from, config.data_cache, version)
        print(
            f"not published: it does not beat {evaluations['versus_parent']['parent']} on "
            f"validation under the publishing rule; the candidate is kept at {version.path}, "
            f"and recorded as a trial at {trial}"
        )
    return version
