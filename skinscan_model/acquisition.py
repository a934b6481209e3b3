"""How the image was taken: dermoscopy, a clinical photograph of skin, or something else.

A model with an acquisition head (trainer.network.acquisition) outputs three
probabilities per image. skinscan judges dermoscopy only: below the model's
level for the dermoscopy probability, the image is refused, with the reason
the likelier of the other two gives and what to do about it. The service
(skinscan_pipeline.decision, through skinscan_model.assessment) and the
trainer's refusal rates ask here, so both apply one rule.
"""

from __future__ import annotations

import numpy as np

from skinscan.analysis import Finding, Severity

__all__ = [
    "ACQUISITION_CLASSES",
    "CLINICAL",
    "CLINICAL_PHOTOGRAPH",
    "DERMOSCOPY",
    "NOT_SKIN",
    "OTHER",
    "acquisition_finding",
]

ACQUISITION_CLASSES = ("dermoscopy", "clinical", "other")
DERMOSCOPY, CLINICAL, OTHER = range(len(ACQUISITION_CLASSES))
# The findings' codes, as clients see them.
CLINICAL_PHOTOGRAPH = "clinical_photograph"
NOT_SKIN = "not_skin"


def acquisition_finding(probabilities: np.ndarray | None, level: float | None) -> Finding | None:
    """A refusal when the dermoscopy probability is under `level`; None when it passes or the
    model has no acquisition head."""
    if probabilities is None or level is None:
        return None
    p = np.asarray(probabilities, dtype=np.float64)
    if p.shape != (len(ACQUISITION_CLASSES),) or not np.all(np.isfinite(p)) or p.sum() <= 0:
        raise ValueError(
            f"expected {len(ACQUISITION_CLASSES)} acquisition probabilities, got {p!r}"
        )
    p = p / p.sum()
    dermoscopy = float(p[DERMOSCOPY])
    if dermoscopy >= level:
        return None
    if p[CLINICAL] >= p[OTHER]:
        return Finding(
            CLINICAL_PHOTOGRAPH,
            Severity.REFUSAL,
            "this looks like a photograph taken without a dermatoscope (clinical photograph "
            f"{p[CLINICAL]:.0%}, dermoscopy {dermoscopy:.0%}); skinscan judges dermoscopic "
            "images only: take the picture through a dermatoscope",
            dermoscopy,
        )
    return Finding(
        NOT_SKIN,
        Severity.REFUSAL,
        f"this does not look like a picture of skin (other image {p[OTHER]:.0%}, dermoscopy "
        f"{dermoscopy:.0%}): send a dermoscopic image of the lesion",
        dermoscopy,
    )
