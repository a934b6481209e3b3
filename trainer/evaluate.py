"""`skinscan evaluate`: an exported model, run as the service runs it, scored on a data set.

Images go through skinscan_model.preprocessing (the service's decoding, resizing and
cropping) into the exported ONNX graph in ONNX Runtime, and the label is
decided with the model's own threshold, exactly as the service decides. The
report is `metrics.json` plus ROC, confusion-matrix and reliability plots.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from skinscan_model.diagnoses import DIAGNOSIS_CODES
from skinscan_model.repositories import resolve_version
from skinscan_model.store import ModelVersion
from trainer.card.plots import plot_confusion, plot_reliability, plot_roc
from trainer.data.datasets import Dataset, load_dataset
from trainer.data.samples import DataError, decode
from trainer.evaluation.metrics import binary_report, multiclass_report
from trainer.export.assessability import assessability_report, format_assessability
from trainer.export.graph import onnx_outputs

__all__ = ["evaluate", "format_report", "score", "select_split"]

SPLIT_FILE = "split.csv"
# --model and --split-from are local paths: no repository here is fetched into a cache.
LOCAL_ONLY = Path("model-cache")
SUMMARY = (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "sensitivity",
    "specificity",
    "f1",
    "roc_auc",
    "sensitivity_at_90_specificity",
    "ece",
)


def select_split(dataset: Dataset, version: ModelVersion, split: str) -> Dataset:
    """The images the model's training put in `split` (its split.csv), found in `dataset`.

    A model trained on several sources recorded each row's source; the one
    whose images are all in `dataset` is the one meant, wherever it lives now.
    """
    manifest = version.path / SPLIT_FILE
    if not manifest.is_file():
        raise DataError(f"{version.path} has no {SPLIT_FILE}: it records no split to select from")
    with manifest.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    present = {s.path.relative_to(dataset.root).as_posix() for s in dataset.samples}
    by_source: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_source.setdefault(row.get("source", ""), []).append(row)
    if len(by_source) > 1:
        matching = [s for s, mine in by_source.items() if all(r["path"] in present for r in mine)]
        if len(matching) != 1:
            raise DataError(
                f"{dataset.root} is none of the sources the model was trained on "
                f"({', '.join(sorted(by_source))}), or more than one"
            )
        rows = by_source[matching[0]]
    wanted = {row["path"] for row in rows if row["split"] == split}
    if not wanted:
        raise DataError(f"{manifest} has no image in split {split!r}")
    chosen = tuple(
        s for s in dataset.samples if s.path.relative_to(dataset.root).as_posix() in wanted
    )
    if len(chosen) != len(wanted):
        raise DataError(
            f"{len(wanted) - len(chosen)} of the {len(wanted)} {split} images in {manifest} are "
            f"not in {dataset.root}: is --data the folder the model was trained on?"
        )
    return Dataset(f"{dataset.name}, {split} split", dataset.root, chosen, dataset.classes)


def score(
    probabilities: np.ndarray,
    labels: np.ndarray,
    version_labels: tuple[str, ...],
    positive_label: str,
    threshold: float,
    out: Path | None,
    title: str,
    resamples: int = 1000,
) -> dict[str, Any]:
    """Metrics with intervals, and (when `out` is given) the three plots beside them."""
    positive = version_labels.index(positive_label)
    report = binary_report(probabilities, labels, positive, threshold, resamples)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        auc = report["roc_auc"]["value"]  # type: ignore[index]
        plot_roc(
            labels == positive, probabilities[:, positive], auc, f"ROC, {title}", out / "roc.png"
        )
        negatives = [c for c in version_labels if c != positive_label]
        plot_confusion(
            report["confusion_matrix"]["matrix"],  # type: ignore[index]
            ["/".join(negatives), positive_label],
            f"Confusion matrix, {title}",
            out / "confusion_matrix.png",
        )
        plot_reliability(
            probabilities,
            labels,
            report["ece"]["value"],  # type: ignore[index]
            f"Reliability, {title}",
            out / "reliability.png",
        )
    return report


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"{report['images']} images, {report['positives']} positive; decision threshold "
        f"{report['threshold']:.3f}"
    ]
    for name in SUMMARY:
        entry = report[name]
        low, high = entry["ci95"]
        lines.append(f"  {name:<30} {entry['value']:.3f}   95% CI [{low:.3f}, {high:.3f}]")
    (tn, fp), (fn, tp) = report["confusion_matrix"]["matrix"]
    lines.append(f"  confusion matrix (true x predicted): TN {tn}  FP {fp}  FN {fn}  TP {tp}")
    return "\n".join(lines)


def evaluate(
    model: Path,
    data: Path,
    out: Path,
    split: str | None = None,
    split_from: Path | None = None,
) -> dict[str, Any]:
    """Scores `model` on `data`, or on its `split` part as recorded by `split_from`
    (another model's version, so two versions are compared on the same images;
    by default the model's own)."""
    version = resolve_version(model, LOCAL_ONLY)
    metadata = version.metadata
    dataset = load_dataset(data)
    if split is not None:
        recorded = resolve_version(split_from, LOCAL_ONLY) if split_from is not None else version
        dataset = select_split(dataset, recorded, split)
    # The data set's class names must be the model's; map by name, not position.
    unknown = set(dataset.classes) - set(metadata.labels)
    if unknown:
        raise DataError(f"{data} has classes {sorted(unknown)} that the model does not know")
    print(dataset.describe())
    images = decode(dataset.samples, metadata.input.size)
    labels = np.array([metadata.labels.index(dataset.classes[s.label]) for s in dataset.samples])
    # The graph's diagnosis head is scored whether or not the version serves it: a withheld
    # diagnosis (trainer.export.output_gates) is what the next version has to bring to its level.
    graph_outputs = {o.name for o in onnx.load(str(version.onnx_path)).graph.output}
    diagnosing = metadata.diagnosis_output in graph_outputs
    codes = metadata.diagnoses or DIAGNOSIS_CODES
    names = ("probabilities", *((metadata.diagnosis_output,) if diagnosing else ()))
    outputs = onnx_outputs(version.onnx_path, images.pixels, names)
    probabilities = outputs["probabilities"].astype(np.float64)
    title = f"{version.name} v{version.version}"
    report = score(
        probabilities,
        labels,
        metadata.labels,
        metadata.positive_label,
        metadata.decision_threshold,
        out,
        title,
    )
    document: dict[str, Any] = {
        "model": {"name": version.name, "version": version.version, "path": str(version.path)},
        "data": {"root": str(dataset.root), "description": dataset.describe(), "split": split},
        "metrics": report,
    }
    known = images.diagnoses >= 0
    if diagnosing and known.any():
        diagnosis = multiclass_report(
            outputs[metadata.diagnosis_output][known], images.diagnoses[known], codes
        )
        diagnosis["served"] = bool(metadata.diagnoses)
        document["diagnosis_metrics"] = diagnosis
        accuracy = diagnosis["balanced_accuracy"]
        print(
            f"diagnosis{'' if metadata.diagnoses else ' (computed, not served)'} on "
            f"{diagnosis['images']} images: balanced accuracy {accuracy['value']:.3f} "
            f"95% CI [{accuracy['ci95'][0]:.3f}, {accuracy['ci95'][1]:.3f}]; sensitivity "
            + ", ".join(
                f"{code} {value:.2f}"
                for code, value in diagnosis["sensitivity"].items()
                if value is not None
            )
        )
    document["assessability"] = assessability_report(
        metadata, version.onnx_path, [s.path for s in dataset.samples]
    )
    (out / "metrics.json").write_text(json.dumps(document, indent=2) + "\n")
    print(f"{title} on {dataset.name}:")
    print(format_report(report))
    print(format_assessability(document["assessability"]))
    print(f"wrote {out / 'metrics.json'} and plots")
    return document
