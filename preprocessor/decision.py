"""From the model's outputs and the image's quality to what a clinician reads.

First: can the image be assessed? Any refusal means no label and no
probability, only the reasons. Then the decision, stated as what it is: the
calibrated malignant probability against the referral threshold chosen for a
target sensitivity, with a warning when the two are too close to call.
"""

from __future__ import annotations

import numpy as np

from skinscan.analysis import Analysis, Finding, ModelRef, Severity
from skinscan_model.quality import QualityLimits, QualityMeasures, quality_findings

__all__ = ["BORDERLINE_MARGIN", "decide"]

# Closer than this to the threshold, a small change in the image (another
# angle, other light) could flip the decision.
BORDERLINE_MARGIN = 0.05


def decide(
    request_id: str,
    probabilities: np.ndarray,
    labels: tuple[str, ...],
    positive_label: str,
    decision_threshold: float,
    model: ModelRef,
    measures: QualityMeasures,
    quality_limits: QualityLimits | None,
    input_size: int,
) -> Analysis:
    """One row of class probabilities and the image's quality -> an Analysis."""
    if probabilities.shape != (len(labels),) or not np.all(np.isfinite(probabilities)):
        raise ValueError(f"expected {len(labels)} finite probabilities, got {probabilities!r}")
    findings = quality_findings(measures, quality_limits, input_size)
    if any(f.severity is Severity.REFUSAL for f in findings):
        return Analysis(request_id, model, assessable=False, findings=tuple(findings))
    # Renormalize in float64 so the values a client sees sum to 1 exactly enough.
    probs = probabilities.astype(np.float64)
    probs = probs / probs.sum()
    by_label = {label: float(p) for label, p in zip(labels, probs, strict=True)}
    positive = by_label[positive_label]
    # The positive class wins at the threshold chosen for a target sensitivity,
    # so a missed melanoma is rarer than with a plain argmax; otherwise the
    # most probable of the other classes is the label.
    if positive >= decision_threshold:
        label = positive_label
        relation = "at or above"
    else:
        label = max((x for x in labels if x != positive_label), key=by_label.__getitem__)
        relation = "below"
    explanation = (
        f"{positive_label} probability {positive:.3f}, {relation} the referral threshold "
        f"{decision_threshold:.3f}: {label}"
    )
    if abs(positive - decision_threshold) < BORDERLINE_MARGIN:
        findings.append(
            Finding(
                "borderline",
                Severity.WARNING,
                f"the {positive_label} probability is within {BORDERLINE_MARGIN} of the referral "
                "threshold: the decision could go either way; have a dermatologist review it",
                positive - decision_threshold,
            )
        )
    return Analysis(
        request_id,
        model,
        assessable=True,
        findings=tuple(findings),
        label=label,
        probabilities=by_label,
        malignant_probability=positive,
        decision_threshold=decision_threshold,
        explanation=explanation,
    )
