"""From the model's outputs and the image's quality to what a clinician reads.

First: can the image be assessed? Any refusal means no label and no
probability, only the reasons. Then the decision, stated as what it is: the
calibrated malignant probability against the referral threshold chosen for a
target sensitivity, with a warning when the two are too close to call.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from skinscan.analysis import (
    MODEL_THRESHOLD,
    Analysis,
    Diagnosis,
    Finding,
    HeatMap,
    ModelRef,
    Severity,
)
from skinscan_model.assessment import image_findings, is_refused
from skinscan_model.diagnoses import DIAGNOSES
from skinscan_model.quality import QualityLimits, QualityMeasures

__all__ = ["BORDERLINE_MARGIN", "MODEL_THRESHOLD", "ModelOutputs", "at_threshold", "decide"]

# Closer than this to the threshold, a small change in the image (another
# angle, other light) could flip the decision.
BORDERLINE_MARGIN = 0.05


@dataclass(frozen=True)
class ModelOutputs:
    """What the model said about one image, and what it declares for judging it."""

    probabilities: np.ndarray  # (classes,)
    labels: tuple[str, ...]
    positive_label: str
    decision_threshold: float
    model: ModelRef
    input_size: int
    quality_limits: QualityLimits | None = None
    # Models exported without them have none of the three.
    ood_score: float | None = None
    ood_threshold: float | None = None
    heatmap: HeatMap | None = None
    # With a diagnosis head: its probabilities (diagnoses,) and their codes.
    diagnosis_probabilities: np.ndarray | None = None
    diagnosis_codes: tuple[str, ...] = ()
    # With an acquisition head: its three probabilities (skinscan_model.acquisition) and the
    # level under which the dermoscopy probability refuses the image.
    acquisition_probabilities: np.ndarray | None = None
    acquisition_level: float | None = None
    # The sensitivity decision_threshold was chosen for, where the model declares it.
    target_sensitivity: float | None = None


def _diagnosis(outputs: ModelOutputs) -> Diagnosis | None:
    if outputs.diagnosis_probabilities is None:
        return None
    probabilities = outputs.diagnosis_probabilities.astype(np.float64)
    probabilities = probabilities / probabilities.sum()
    by_code = {c: float(p) for c, p in zip(outputs.diagnosis_codes, probabilities, strict=True)}
    top = DIAGNOSES[max(by_code, key=by_code.__getitem__)]
    return Diagnosis(top.code, top.name, top.malignant, by_code)


def _conflict(label: str, positive_label: str, diagnosis: Diagnosis) -> Finding | None:
    """The decision and the likeliest diagnosis disagree on malignancy: a clinician must know."""
    if (label == positive_label) == diagnosis.malignant:
        return None
    decided = "malignant" if label == positive_label else "benign"
    named = "malignant" if diagnosis.malignant else "benign"
    return Finding(
        "conflicting_evidence",
        Severity.WARNING,
        f"the referral decision says {decided}, but the most likely diagnosis, {diagnosis.name} "
        f"({diagnosis.probabilities[diagnosis.code]:.0%}), is {named}: have a dermatologist "
        "review the lesion",
        diagnosis.probabilities[diagnosis.code],
    )


def decide(request_id: str, outputs: ModelOutputs, measures: QualityMeasures) -> Analysis:
    """What the model said and the image's quality -> an Analysis."""
    probabilities, labels = outputs.probabilities, outputs.labels
    positive_label, decision_threshold = outputs.positive_label, outputs.decision_threshold
    model = outputs.model
    if probabilities.shape != (len(labels),) or not np.all(np.isfinite(probabilities)):
        raise ValueError(f"expected {len(labels)} finite probabilities, got {probabilities!r}")
    findings = image_findings(
        measures,
        outputs.quality_limits,
        outputs.input_size,
        outputs.ood_score,
        outputs.ood_threshold,
        outputs.acquisition_probabilities,
        outputs.acquisition_level,
    )
    if is_refused(findings):
        return Analysis(request_id, model, assessable=False, findings=tuple(findings))
    # Renormalize in float64 so the values a client sees sum to 1 exactly enough.
    probs = probabilities.astype(np.float64)
    probs = probs / probs.sum()
    by_label = {label: float(p) for label, p in zip(labels, probs, strict=True)}
    diagnosis = _diagnosis(outputs)
    label, explanation, judged = _judge(
        by_label, positive_label, decision_threshold, diagnosis, MODEL_THRESHOLD
    )
    positive = by_label[positive_label]
    return Analysis(
        request_id,
        model,
        assessable=True,
        findings=(*findings, *judged),
        label=label,
        probabilities=by_label,
        malignant_probability=positive,
        decision_threshold=decision_threshold,
        explanation=explanation,
        heatmap=outputs.heatmap,
        diagnosis=diagnosis,
        threshold_basis=MODEL_THRESHOLD,
        target_sensitivity=outputs.target_sensitivity or 0.0,
    )


def _judge(
    by_label: dict[str, float],
    positive_label: str,
    threshold: float,
    diagnosis: Diagnosis | None,
    basis: str,
) -> tuple[str, str, list[Finding]]:
    """The label at `threshold`, the decision in words, and the warnings it brings."""
    positive = by_label[positive_label]
    # The positive class wins at the threshold chosen for a target sensitivity,
    # so a missed melanoma is rarer than with a plain argmax; otherwise the
    # most probable of the other classes is the label.
    if positive >= threshold:
        label = positive_label
        relation = "at or above"
    else:
        label = max((x for x in by_label if x != positive_label), key=by_label.__getitem__)
        relation = "below"
    named = "the referral threshold" if basis == MODEL_THRESHOLD else "the clinic's threshold"
    explanation = (
        f"{positive_label} probability {positive:.3f}, {relation} {named} {threshold:.3f}: {label}"
    )
    findings = []
    conflict = None if diagnosis is None else _conflict(label, positive_label, diagnosis)
    if conflict is not None:
        findings.append(conflict)
    if abs(positive - threshold) < BORDERLINE_MARGIN:
        findings.append(
            Finding(
                "borderline",
                Severity.WARNING,
                f"the {positive_label} probability is within {BORDERLINE_MARGIN} of the referral "
                "threshold: the decision could go either way; have a dermatologist review it",
                positive - threshold,
            )
        )
    return label, explanation, findings


# The findings a decision brings, replaced when it is made again at another threshold.
_DECISION_FINDINGS = frozenset({"borderline", "conflicting_evidence"})


def at_threshold(analysis: Analysis, threshold: float, basis: str) -> Analysis:
    """`analysis` decided again at another referral threshold (a clinic's own, adopted from
    its audit cases), `basis` saying which in words; refused analyses are as they were."""
    if not analysis.assessable:
        return analysis
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"a referral threshold is in (0, 1), got {threshold}")
    positive_label = _positive_label(analysis)
    label, explanation, judged = _judge(
        analysis.probabilities, positive_label, threshold, analysis.diagnosis, basis
    )
    kept = tuple(f for f in analysis.findings if f.code not in _DECISION_FINDINGS)
    return replace(
        analysis,
        label=label,
        decision_threshold=threshold,
        explanation=explanation,
        findings=(*kept, *judged),
        threshold_basis=basis,
    )


def _positive_label(analysis: Analysis) -> str:
    """The label whose probability the decision compares (the one malignant_probability is)."""
    matching = [
        label for label, p in analysis.probabilities.items() if p == analysis.malignant_probability
    ]
    if analysis.label in matching:
        return analysis.label
    if len(matching) == 1:
        return matching[0]
    raise ValueError("cannot tell which label the malignant probability belongs to")
