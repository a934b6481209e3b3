"""Temperature scaling, expected calibration error and the sensitivity-targeted threshold.

A network trained with cross-entropy is usually over-confident. One scalar
temperature T, fitted on validation logits by minimising the negative log
likelihood of softmax(logits / T), fixes most of it without changing which
class wins (Guo et al., 2017). The decision threshold is then chosen on the
calibrated validation probabilities so that the malignant class is caught
with the target sensitivity: a missed melanoma costs more than a second look.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = [
    "expected_calibration_error",
    "fit_temperature",
    "negative_log_likelihood",
    "softmax",
    "threshold_for_sensitivity",
]


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    result: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return result


def negative_log_likelihood(
    logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0
) -> float:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_probabilities = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_probabilities[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising validation NLL, by golden-section search on log T.

    NLL is unimodal in log T for a fixed set of logits, so a bracketing search
    over T in [0.05, 20] converges without gradients or a learning rate.
    """
    labels = np.asarray(labels, dtype=np.int64)
    low, high = np.log(0.05), np.log(20.0)
    ratio = (np.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa = negative_log_likelihood(logits, labels, float(np.exp(a)))
    fb = negative_log_likelihood(logits, labels, float(np.exp(b)))
    for _ in range(80):
        if fa < fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = negative_log_likelihood(logits, labels, float(np.exp(a)))
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = negative_log_likelihood(logits, labels, float(np.exp(b)))
    return float(np.exp((low + high) / 2))


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = 15
) -> float:
    """ECE of the top-class confidence, equal-width bins (the usual definition)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for low, high in itertools.pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


def threshold_for_sensitivity(scores: np.ndarray, positives: np.ndarray, target: float) -> float:
    """The highest threshold t with sensitivity(score >= t) >= target.

    Highest, because among thresholds reaching the sensitivity it gives the
    best specificity. The result lies halfway between two observed scores so
    that float rounding in another runtime cannot flip a validation image.
    """
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target sensitivity must be in (0, 1], got {target}")
    scores = np.asarray(scores, dtype=np.float64)
    positives = np.asarray(positives, dtype=bool)
    if not positives.any():
        raise ValueError("no positive example to choose a threshold on")
    positive_scores = np.sort(scores[positives])[::-1]
    needed = int(np.ceil(target * len(positive_scores) - 1e-9))
    lowest_kept = positive_scores[max(needed, 1) - 1]
    below = scores[scores < lowest_kept]
    threshold = (lowest_kept + below.max()) / 2 if below.size else lowest_kept / 2
    return float(np.clip(threshold, 1e-4, 1 - 1e-4))
