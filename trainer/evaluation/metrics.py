"""Classification metrics on numpy arrays, with bootstrap confidence intervals.

Written out rather than imported so each can be read line by line; the tests
check them against scikit-learn and the ISIC challenge's own scoring package.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainer.evaluation.calibration import expected_calibration_error

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "balanced_accuracy",
    "binary_report",
    "multiclass_report",
    "roc_auc",
    "roc_curve",
    "sensitivity_at_specificity",
]

BOOTSTRAP_RESAMPLES = 1000


def roc_auc(positives: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) identity, ties averaged."""
    positives = np.asarray(positives, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    _, first, counts = np.unique(scores[order], return_index=True, return_counts=True)
    for start, count in zip(first[counts > 1], counts[counts > 1], strict=True):
        ranks[order[start : start + count]] = start + (count + 1) / 2
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_curve(positives: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates at every distinct threshold, from (0, 0) to (1, 1)."""
    positives = np.asarray(positives, dtype=bool)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="mergesort")
    sorted_scores = np.asarray(scores)[order]
    hits = positives[order]
    # Only the last index of each run of tied scores is a real operating point.
    last = np.r_[np.nonzero(np.diff(sorted_scores))[0], len(hits) - 1]
    tp = np.cumsum(hits)[last]
    fp = np.cumsum(~hits)[last]
    tpr = np.r_[0.0, tp / max(1, positives.sum())]
    fpr = np.r_[0.0, fp / max(1, (~positives).sum())]
    return fpr, tpr


def sensitivity_at_specificity(
    positives: np.ndarray, scores: np.ndarray, specificity: float = 0.90
) -> float:
    """The best sensitivity among thresholds whose specificity is at least `specificity`."""
    fpr, tpr = roc_curve(positives, scores)
    allowed = fpr <= 1.0 - specificity + 1e-12
    return float(tpr[allowed].max())


def balanced_accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Mean per-class recall over the classes present in `truth`."""
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    recalls = [float(np.mean(predicted[truth == c] == c)) for c in np.unique(truth)]
    return float(np.mean(recalls)) if recalls else float("nan")


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else float("nan")


def _point_metrics(
    positives: np.ndarray,
    scores: np.ndarray,
    predicted_positive: np.ndarray,
    probabilities: np.ndarray,
    labels: np.ndarray,
) -> dict[str, float]:
    tp = float(np.sum(predicted_positive & positives))
    tn = float(np.sum(~predicted_positive & ~positives))
    fp = float(np.sum(predicted_positive & ~positives))
    fn = float(np.sum(~predicted_positive & positives))
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    specificity = _ratio(tn, tn + fp)
    return {
        "accuracy": _ratio(tp + tn, len(positives)),
        "balanced_accuracy": (recall + specificity) / 2,
        "precision": precision,
        "recall": recall,
        "sensitivity": recall,
        "specificity": specificity,
        "f1": _ratio(2 * precision * recall, precision + recall),
        "roc_auc": roc_auc(positives, scores),
        "sensitivity_at_90_specificity": sensitivity_at_specificity(positives, scores, 0.90),
        "ece": expected_calibration_error(probabilities, labels),
    }


def binary_report(
    probabilities: np.ndarray,
    labels: np.ndarray,
    positive: int,
    threshold: float,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> dict[str, object]:
    """Every metric at the model's decision threshold, each with a bootstrap 95% interval.

    The positive class is predicted when its probability reaches `threshold`,
    as the service decides. Intervals are percentile bootstrap over images.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    positives = labels == positive
    scores = probabilities[:, positive]
    predicted_positive = scores >= threshold

    def compute(index: np.ndarray) -> dict[str, float]:
        return _point_metrics(
            positives[index],
            scores[index],
            predicted_positive[index],
            probabilities[index],
            labels[index],
        )

    everything = np.arange(len(labels))
    point = compute(everything)
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {name: [] for name in point}
    for _ in range(resamples):
        drawn = compute(rng.integers(0, len(labels), len(labels)))
        for name, value in drawn.items():
            samples[name].append(value)
    report: dict[str, object] = {}
    for name, value in point.items():
        values = np.asarray(samples[name])
        values = values[np.isfinite(values)]
        low, high = np.percentile(values, [2.5, 97.5]) if values.size else (np.nan, np.nan)
        report[name] = {"value": value, "ci95": [float(low), float(high)]}
    tp = int(np.sum(predicted_positive & positives))
    fn = int(np.sum(~predicted_positive & positives))
    fp = int(np.sum(predicted_positive & ~positives))
    tn = int(np.sum(~predicted_positive & ~positives))
    report["confusion_matrix"] = {
        "rows": "true class (negative, positive)",
        "columns": "predicted class (negative, positive)",
        "matrix": [[tn, fp], [fn, tp]],
    }
    report["images"] = len(labels)
    report["positives"] = int(positives.sum())
    report["threshold"] = threshold
    report["bootstrap_resamples"] = resamples
    return report


def multiclass_report(
    probabilities: np.ndarray,
    labels: np.ndarray,
    classes: tuple[str, ...],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """The diagnosis head's metrics: balanced accuracy (the ISIC 2018 metric) with a
    bootstrap 95% interval, each class's sensitivity, and the confusion matrix."""
    labels = np.asarray(labels, dtype=np.int64)
    predicted = np.asarray(probabilities).argmax(axis=1)
    point = balanced_accuracy(labels, predicted)
    rng = np.random.default_rng(seed)
    drawn = [
        balanced_accuracy(labels[index], predicted[index])
        for index in (rng.integers(0, len(labels), len(labels)) for _ in range(resamples))
    ]
    low, high = np.percentile(drawn, [2.5, 97.5])
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    totals = matrix.sum(axis=1)
    return {
        "balanced_accuracy": {"value": point, "ci95": [float(low), float(high)]},
        "accuracy": float(np.mean(predicted == labels)),
        "sensitivity": {
            name: (float(matrix[i, i] / totals[i]) if totals[i] else None)
            for i, name in enumerate(classes)
        },
        "confusion_matrix": {
            "rows": "true class",
            "columns": "predicted class",
            "classes": list(classes),
            "matrix": matrix.tolist(),
        },
        "images": len(labels),
        "bootstrap_resamples": resamples,
    }
