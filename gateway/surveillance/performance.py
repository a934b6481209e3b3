"""How each model version has done at a clinic, measured on its audit cases.

Audit cases (gateway.surveillance.audit_sample) are scored at the threshold
in force, from the malignant probability each analysis recorded: the clinic's
own where one is adopted, else the model's. Cases clinicians chose to send for
review are counted beside them as recorded, never mixed in: they lean towards
the suspicious. Malignant (mel, bcc, akiec, as skinscan_model.diagnoses says)
is positive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gateway.surveillance.statistics import Proposal, Rate, propose_threshold
from skinscan_model.diagnoses import DIAGNOSES
from skinscan_pipeline.decision import MODEL_THRESHOLD

__all__ = ["Case", "Tally", "VersionPerformance", "version_performance"]


@dataclass(frozen=True)
class Case:
    """One confirmed case: what the analysis recorded and what a dermatologist confirmed."""

    model_name: str
    model_version: str
    audit: bool
    label: str | None  # as recorded; "not_assessable" for a refused image
    malignant_probability: float | None
    diagnosis: str | None
    result: dict[str, Any] = field(repr=False)

    @property
    def malignant(self) -> bool | None:
        known = DIAGNOSES.get(self.diagnosis or "")
        return None if known is None else known.malignant


@dataclass(frozen=True)
class Tally:
    true_positives: int = 0
    false_negatives: int = 0
    true_negatives: int = 0
    false_positives: int = 0
    not_assessable: int = 0

    @property
    def confirmed(self) -> int:
        return (
            self.true_positives
            + self.false_negatives
            + self.true_negatives
            + self.false_positives
            + self.not_assessable
        )

    @property
    def sensitivity(self) -> Rate:
        return Rate(self.true_positives, self.true_positives + self.false_negatives)

    @property
    def specificity(self) -> Rate:
        return Rate(self.true_negatives, self.true_negatives + self.false_positives)


def _tally(pairs: Sequence[tuple[bool | None, bool]]) -> Tally:
    """(referred, malignant) pairs; referred None for an image not assessed."""
    counts = [0, 0, 0, 0, 0]
    for referred, malignant in pairs:
        if referred is None:
            counts[4] += 1
        elif malignant:
            counts[0 if referred else 1] += 1
        else:
            counts[3 if referred else 2] += 1
    return Tally(*counts)


@dataclass(frozen=True)
class VersionPerformance:
    model_name: str
    model_version: str
    # The model's own threshold and the sensitivity it promises (None where unknown).
    model_threshold: float | None
    target_sensitivity: float | None
    # The threshold in force at this clinic and which one it is, in words.
    threshold: float | None
    threshold_basis: str
    audit: Tally  # audit cases at the threshold in force
    chosen: Tally  # cases clinicians chose to send, as recorded
    recorded: Tally  # every confirmed case, as recorded (both kinds: never an estimate)
    proposal: Proposal | None  # None where the model declares no target or threshold

    @property
    def warning(self) -> str | None:
        """Said when the audit cases show the promised sensitivity is not met."""
        sensitivity = self.audit.sensitivity
        target = self.target_sensitivity
        if target is None or not sensitivity.below(target):
            return None
        interval = sensitivity.interval
        assert interval is not None  # below() says there are cases
        return (
            f"On this clinic's audit cases the sensitivity at {self.threshold_basis} is "
            f"{sensitivity.value:.0%} (95% interval {interval[0]:.0%} to "
            f"{interval[1]:.0%}): below the {target:.0%} the model promises. "
            "Adopt a clinic threshold, or have more lesions reviewed."
        )


def _model_threshold(cases: Sequence[Case], adopted: float | None) -> float | None:
    """The model's threshold, as any result decided by it recorded it (else the one the
    clinic threshold in force was fitted against)."""
    for case in cases:
        basis = case.result.get("threshold_basis", "")
        threshold = case.result.get("decision_threshold")
        if basis in ("", MODEL_THRESHOLD) and threshold:
            return float(threshold)
    return adopted


def _target(cases: Sequence[Case]) -> float | None:
    for case in cases:
        target = case.result.get("target_sensitivity")
        if target:
            return float(target)
    return None


def version_performance(
    name: str,
    version: str,
    cases: Sequence[Case],
    in_force: tuple[float, str, float] | None,
    seed: int = 0,
) -> VersionPerformance:
    """One version's figures from its confirmed cases; `in_force` = (threshold, its basis in
    words, the model threshold it was fitted against) where the clinic adopted one."""
    model_threshold = _model_threshold(cases, in_force[2] if in_force else None)
    target = _target(cases)
    if in_force is not None:
        threshold: float | None = in_force[0]
        basis = in_force[1]
    else:
        threshold, basis = model_threshold, MODEL_THRESHOLD
    audit = [
        c
        for c in cases
        if c.audit and c.malignant is not None and c.malignant_probability is not None
    ]
    chosen = [c for c in cases if not c.audit and c.malignant is not None]
    scores = np.array([c.malignant_probability for c in audit], dtype=np.float64)
    truth = np.array([bool(c.malignant) for c in audit], dtype=bool)
    audit_tally = _tally(
        [
            (None if threshold is None else bool(score >= threshold), bool(malignant))
            for score, malignant in zip(scores, truth, strict=True)
        ]
    )
    chosen_tally, recorded_tally = (
        _tally(
            [
                (None if c.label == "not_assessable" else c.label == "malignant", bool(c.malignant))
                for c in group
            ]
        )
        for group in (chosen, [c for c in cases if c.malignant is not None])
    )
    proposal = None
    if target is not None and model_threshold is not None:
        proposal = propose_threshold(scores, truth, target, model_threshold, seed=seed)
    return VersionPerformance(
        name,
        version,
        model_threshold,
        target,
        threshold,
        basis,
        audit_tally,
        chosen_tally,
        recorded_tally,
        proposal,
    )
