"""PNG figures for model cards and evaluation reports (matplotlib, no display needed)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: training machines and CI have no display

import matplotlib.pyplot as plt
import numpy as np

from trainer.evaluation.metrics import roc_curve
from trainer.training.loop import EpochRecord

__all__ = ["plot_confusion", "plot_reliability", "plot_roc", "plot_training_curves"]


def plot_training_curves(phases: Mapping[str, Sequence[EpochRecord]], path: Path) -> None:
    """Loss and validation ROC-AUC / balanced accuracy per epoch, one column per phase."""
    phases = {name: records for name, records in phases.items() if records}
    figure, axes = plt.subplots(2, len(phases), figsize=(5 * len(phases), 6), squeeze=False)
    for column, (name, records) in enumerate(phases.items()):
        epochs = [r.epoch for r in records]
        loss_axis, metric_axis = axes[0][column], axes[1][column]
        loss_axis.plot(epochs, [r.train_loss for r in records], marker="o", label="train loss")
        loss_axis.plot(epochs, [r.val_loss for r in records], marker="o", label="validation loss")
        loss_axis.set_title(f"{name}: loss")
        loss_axis.legend()
        metric_axis.plot(
            epochs,
            [r.val_balanced_accuracy for r in records],
            marker="o",
            label="balanced accuracy",
        )
        if not all(np.isnan(r.val_roc_auc) for r in records):
            metric_axis.plot(epochs, [r.val_roc_auc for r in records], marker="o", label="ROC-AUC")
        metric_axis.set_title(f"{name}: validation")
        metric_axis.set_xlabel("epoch")
        metric_axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_roc(positives: np.ndarray, scores: np.ndarray, auc: float, title: str, path: Path) -> None:
    fpr, tpr = roc_curve(positives, scores)
    figure, axis = plt.subplots(figsize=(5, 5))
    axis.plot(fpr, tpr, label=f"ROC-AUC {auc:.3f}")
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey")
    axis.set_xlabel("1 - specificity")
    axis.set_ylabel("sensitivity")
    axis.set_title(title)
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_confusion(matrix: list[list[int]], classes: Sequence[str], title: str, path: Path) -> None:
    figure, axis = plt.subplots(figsize=(4.5, 4))
    values = np.asarray(matrix)
    axis.imshow(values, cmap="Blues")
    for (row, column), count in np.ndenumerate(values):
        colour = "white" if count > values.max() / 2 else "black"
        axis.text(column, row, str(count), ha="center", va="center", color=colour)
    axis.set_xticks(range(len(classes)), labels=list(classes))
    axis.set_yticks(range(len(classes)), labels=list(classes))
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_reliability(
    probabilities: np.ndarray,
    labels: np.ndarray,
    ece: float,
    title: str,
    path: Path,
    bins: int = 10,
) -> None:
    """Accuracy against confidence of the top class, per confidence bin."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    centres, accuracies, counts = [], [], []
    for low, high in itertools.pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            centres.append(float(confidence[inside].mean()))
            accuracies.append(float(correct[inside].mean()))
            counts.append(int(inside.sum()))
    figure, axis = plt.subplots(figsize=(5, 5))
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    axis.plot(centres, accuracies, marker="o", label=f"model (ECE {ece:.3f})")
    for x, y, n in zip(centres, accuracies, counts, strict=True):
        axis.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    axis.set_xlabel("confidence")
    axis.set_ylabel("accuracy")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.set_title(title)
    axis.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
