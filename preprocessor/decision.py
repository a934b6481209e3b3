"""From the model's class probabilities to the label a clinician sees."""

from __future__ import annotations

import numpy as np

from skinscan.analysis import Analysis, ModelRef

__all__ = ["decide"]


def decide(
    request_id: str,
    probabilities: np.ndarray,
    labels: tuple[str, ...],
    positive_label: str,
    decision_threshold: float,
    model: ModelRef,
) -> Analysis:
    """Turns one row of class probabilities into an Analysis.

    The positive class ("malignant") wins whenever its probability reaches the
    threshold chosen at training time for a target sensitivity, so a missed
    melanoma is rarer than with a plain argmax. Otherwise the most probable of
    the other classes is the label.
    """
    if probabilities.shape != (len(labels),) or not np.all(np.isfinite(probabilities)):
        raise ValueError(f"expected {len(labels)} finite probabilities, got {probabilities!r}")
    # Renormalize in float64 so the values a client sees sum to 1 exactly enough.
    probs = probabilities.astype(np.float64)
    probs = probs / probs.sum()
    by_label = {label: float(p) for label, p in zip(labels, probs, strict=True)}
    if by_label[positive_label] >= decision_threshold:
        label = positive_label
    else:
        label = max((x for x in labels if x != positive_label), key=by_label.__getitem__)
    return Analysis(
        request_id=request_id,
        label=label,
        probabilities=by_label,
        confidence=by_label[label],
        model=model,
        decision_threshold=decision_threshold,
    )
