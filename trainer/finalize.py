"""After training: calibrate, choose the threshold, export fp32 and int8, evaluate, write the version.

Order matters. The temperature and the threshold are fitted on validation
data only; the test split is touched once, at the end, to report what the
served graph does on images that influenced nothing.
"""

from __future__ import annotations

import csv
import platform
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from skinscan.model_repository import InputSpec, ModelMetadata, ModelVersion, write_version
from trainer.calibration import (
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    softmax,
    threshold_for_sensitivity,
)
from trainer.data import LabelledImages
from trainer.evaluate import SPLIT_FILE, format_report, score
from trainer.export import (
    CALIBRATION_IMAGES,
    check_int8_parity,
    check_parity,
    export_onnx,
    onnx_probabilities,
    quantize_int8,
    torch_probabilities,
)
from trainer.loop import FitResult, predict_logits
from trainer.model import SkinLesionClassifier
from trainer.model_card import MODEL_CARD_FILE, render_model_card
from trainer.plots import plot_training_curves

if TYPE_CHECKING:
    from trainer.train import PreparedData, TrainConfig

__all__ = ["FP32_FILE", "finalize", "write_split"]

FP32_FILE = "model.fp32.onnx"


def write_split(path: Path, prepared: PreparedData) -> None:
    """The split as CSV, paths relative to the data root, so `skinscan evaluate --split` can reuse it."""
    parts = prepared.split.part_of()
    root = prepared.dataset.root
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "group", "split"])
        for index, sample in enumerate(prepared.dataset.samples):
            writer.writerow(
                [
                    sample.path.relative_to(root).as_posix(),
                    prepared.dataset.classes[sample.label],
                    prepared.groups[index],
                    parts[index],
                ]
            )


def _calibration(
    val_logits: np.ndarray, val_labels: np.ndarray, test_logits: np.ndarray, test_labels: np.ndarray
) -> dict[str, Any]:
    temperature = fit_temperature(val_logits, val_labels)
    result: dict[str, Any] = {"method": "temperature scaling", "temperature": temperature}
    for name, logits, labels in (
        ("validation", val_logits, val_labels),
        ("test", test_logits, test_labels),
    ):
        if len(labels) == 0:
            continue
        result[name] = {
            "nll_before": negative_log_likelihood(logits, labels),
            "nll_after": negative_log_likelihood(logits, labels, temperature),
            "ece_before": expected_calibration_error(softmax(logits), labels),
            "ece_after": expected_calibration_error(softmax(logits, temperature), labels),
        }
    validation = result["validation"]
    print(
        f"temperature scaling: T = {temperature:.3f}; validation NLL {validation['nll_before']:.4f} -> "
        f"{validation['nll_after']:.4f}, ECE {validation['ece_before']:.4f} -> {validation['ece_after']:.4f}"
    )
    return result


def finalize(
    *,
    config: TrainConfig,
    classifier: SkinLesionClassifier,
    spec: InputSpec,
    prepared: PreparedData,
    train_images: LabelledImages,
    val_images: LabelledImages,
    test_images: LabelledImages,
    history: FitResult,
    pretrain_history: FitResult | None,
    seconds: float,
    device: str,
) -> ModelVersion:
    classifier = classifier.cpu().eval()
    classes = prepared.dataset.classes
    positive = classes.index(config.positive_label)

    def logits_of(images: LabelledImages) -> np.ndarray:
        return predict_logits(classifier, torch.from_numpy(images.pixels), 64).numpy()

    val_logits, test_logits = logits_of(val_images), logits_of(test_images)
    calibration = _calibration(val_logits, val_images.labels, test_logits, test_images.labels)
    temperature = calibration["temperature"]
    val_probabilities = softmax(val_logits, temperature)
    threshold = threshold_for_sensitivity(
        val_probabilities[:, positive], val_images.labels == positive, config.target_sensitivity
    )
    print(
        f"decision threshold {threshold:.4f}: {config.positive_label} sensitivity >= "
        f"{config.target_sensitivity:.0%} on validation"
    )

    with tempfile.TemporaryDirectory() as workdir:
        work = Path(workdir)
        fp32_path = work / FP32_FILE
        export_onnx(classifier, spec, fp32_path, temperature)
        parity_pixels = val_images.pixels[:64]
        fp32_difference = check_parity(classifier, fp32_path, parity_pixels, temperature)
        served, precision, int8_report = fp32_path, "fp32", None
        if config.quantize:
            int8_path = work / "model.int8.onnx"
            rng = np.random.default_rng(config.seed)
            chosen = rng.choice(
                len(train_images.pixels),
                min(CALIBRATION_IMAGES, len(train_images.pixels)),
                replace=False,
            )
            quantize_int8(fp32_path, int8_path, train_images.pixels[np.sort(chosen)])
            everything = np.concatenate(
                [train_images.pixels, val_images.pixels, test_images.pixels]
            )
            labels = np.concatenate([train_images.labels, val_images.labels, test_images.labels])
            held_out = np.r_[
                np.zeros(len(train_images.labels), bool),
                np.ones(len(val_images.labels) + len(test_images.labels), bool),
            ]
            int8_report = check_int8_parity(
                torch_probabilities(classifier, everything, temperature),
                onnx_probabilities(int8_path, everything),
                labels,
                positive,
                threshold,
                held_out,
            )
            served, precision = int8_path, "int8"

        # What the service will compute: the served graph, on validation and test.
        evaluations: dict[str, Any] = {}
        for part, images in (("validation", val_images), ("test", test_images)):
            if len(images.labels) == 0:
                continue
            probabilities = onnx_probabilities(served, images.pixels)
            plots = work / f"{part}-plots"
            evaluations[part] = score(
                probabilities,
                images.labels,
                classes,
                config.positive_label,
                threshold,
                plots,
                f"{part} split",
            )
            print(f"{precision} model on the {part} split:\n{format_report(evaluations[part])}")

        write_split(work / SPLIT_FILE, prepared)
        plot_training_curves(
            {
                "pretraining": pretrain_history.history if pretrain_history else [],
                "training": history.history,
            },
            work / "training_curves.png",
        )
        training = {
            "config": config.describe(),
            "classes": list(classes),
            "data": prepared.dataset.describe(),
            "split": {
                part: len(getattr(prepared.split, part)) for part in ("train", "validation", "test")
            },
            "best_epoch": history.best_epoch,
            "stopped_early": history.stopped_early,
            "history": [asdict(r) for r in history.history],
            "pretraining_history": [asdict(r) for r in pretrain_history.history]
            if pretrain_history
            else [],
            "seconds": round(
                sum(r.seconds for r in history.history)
                + sum(r.seconds for r in (pretrain_history.history if pretrain_history else [])),
                1,
            ),
            "wall_seconds_this_run": round(seconds, 1),
            "device": device,
            "hardware": f"{platform.machine()}, {torch.get_num_threads()} CPU threads"
            if device == "cpu"
            else torch.cuda.get_device_name(0),
            "torch": torch.__version__,
        }
        metrics = {
            **evaluations,
            "calibration": calibration,
            "onnx_fp32_max_probability_difference": fp32_difference,
            "int8_parity": int8_report,
        }
        metadata = ModelMetadata(
            name=config.model_name,
            labels=classes,
            positive_label=config.positive_label,
            decision_threshold=threshold,
            input=spec,
            architecture=config.architecture,
            precision=precision,
            training=training,
            metrics=metrics,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        card = work / MODEL_CARD_FILE
        card.write_text(render_model_card(metadata))
        extra = {
            SPLIT_FILE: work / SPLIT_FILE,
            MODEL_CARD_FILE: card,
            "training_curves.png": work / "training_curves.png",
        }
        for part in evaluations:
            for figure in ("roc.png", "confusion_matrix.png", "reliability.png"):
                extra[f"{part}_{figure}"] = work / f"{part}-plots" / figure
        if served != fp32_path:
            extra[FP32_FILE] = fp32_path
        version = write_version(config.out, served, metadata, extra)
    print(f"wrote {version.name} version {version.version} ({precision}) to {version.path}")
    return version
