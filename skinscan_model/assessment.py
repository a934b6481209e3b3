"""Can this image be assessed? Everything noticed about the image itself, in one place.

The service (skinscan_pipeline.decision) and the trainer's evaluation of refusal
rates (trainer.assessability) both ask here, so the rates reported for a model
are the ones its users meet.
"""

from __future__ import annotations

from skinscan.analysis import Finding, Severity
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
) -> list[Finding]:
    """Whether the image looks like dermoscopy, then its quality; refusals first."""
    unknown = _out_of_distribution(ood_score, ood_threshold)
    return ([unknown] if unknown else []) + quality_findings(measures, limits, input_size)


def is_refused(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.REFUSAL for f in findings)
