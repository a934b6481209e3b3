"""Can this image be assessed? Everything noticed about the image itself, in one place.

The service (skinscan_pipeline.decision) and the trainer's evaluation of refusal
rates (trainer.export.assessability) both ask here, so the rates reported for a model
are the ones its users meet.
"""

from __future__ import annotations

import numpy as np

from skinscan.analysis import Finding, Severity
from skinscan_model.acquisition import acquisition_finding
from skinscan_model.quality import QualityLimits, QualityMeasures, quality_findings

__all__ = ["image_findings", "is_refused"]


def _out_of_distribution(score: float | None, threshold: float | None) -> Finding | None:
    if score is None or threshold is None or score <= threshold:
        return None
    return Finding(
        "out_of_distribution",
        Severity.REFUSAL,
        "this does not look like a dermoscopic image of a skin lesion (out-of-distribution "
        f"score {score:.0f}; 99% of the validation dermoscopy scores at most {threshold:.0f}): "
        "photograph the lesion through a dermatoscope",
        score,
    )


def image_findings(
    measures: QualityMeasures,
    limits: QualityLimits | None,
    input_size: int,
    ood_score: float | None,
    ood_threshold: float | None,
    acquisition: np.ndarray | None = None,
    acquisition_level: float | None = None,
) -> list[Finding]:
    """Whether the image is dermoscopy (the acquisition head, where the model has one; the
    out-of-distribution score, where it serves one), then its quality; refusals first."""
    unknown = [
        finding
        for finding in (
            acquisition_finding(acquisition, acquisition_level),
            _out_of_distribution(ood_score, ood_threshold),
        )
        if finding is not None
    ]
    return unknown + quality_findings(measures, limits, input_size)


def is_refused(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.REFUSAL for f in findings)
