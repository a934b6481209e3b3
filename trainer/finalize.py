"""After training: calibrate, choose the threshold, export fp32 and int8, evaluate, write the version.

Order matters. The temperature and the threshold are fitted on validation
data only; the test split is touched once, at the end, to report what the
served graph does on images that influenced nothing.
"""

from __future__ import annotations

import platform
import tempfile
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from skinscan_model.diagnoses import DIAGNOSIS_CODES
from skinscan_model.metadata import ModelMetadata
from skinscan_model.quality import derive_limits
from skinscan_model.store import LocalModelStore, ModelVersion
from trainer.card.curve import refresh_curve_page, validation_figures
from trainer.card.model_card import MODEL_CARD_FILE, render_model_card
from trainer.card.plots import plot_training_curves
from trainer.card.trials import record_trial
from trainer.data.acquisition_data import GATE_SPLIT_FILE
from trainer.evaluate import SPLIT_FILE, format_report, score
from trainer.evaluation.heatmap_check import SHEET_IMAGES, heatmap_report, save_overlay_sheet
from trainer.evaluation.metrics import multiclass_report
from trainer.evaluation.versus_parent import HeldOutScores, compare_with_parent, format_comparison
from trainer.export.assessability import assessability_report, format_assessability
from trainer.export.graph import (
    INT8_MIN_AGREEMENT,
    ParityError,
    onnx_outputs,
)
from trainer.export.output_gates import withheld_outputs
from trainer.network.model import DIAGNOSIS_OUTPUT
from trainer.run import FP32_FILE, Export, Trained
from trainer.served_graph import calibrate, export_version, quality_pixels

__all__ = ["CANDIDATES", "finalize"]

# Under the checkpoint folder: where a version that did not beat its parent is kept.
CANDIDATES = "candidates"
HEATMAP_SHEET = "heatmaps.png"
FIGURES = ("roc.png", "confusion_matrix.png", "reliability.png")


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
    calibration = calibrate(trained)
    with tempfile.TemporaryDirectory() as workdir:
        work = Path(workdir)
        export = export_version(trained, calibration, work)
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
            quality=derive_limits(quality_pixels(trained, export)),
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
