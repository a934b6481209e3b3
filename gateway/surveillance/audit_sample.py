"""The audit sample: a share of a clinic's assessable analyses, drawn at random whatever
their result, queued for a dermatologist's confirmation.

Cases a clinician chooses to send for review lean towards the suspicious; a
sensitivity or a threshold measured on them answers for another population.
Audit cases are drawn blind to the result (the draw happens before anyone has
read it, from the operating system's randomness), so the confirmed ones are a
fair sample of what the clinic sees. They go through the review flow that
exists, marked as audit cases.
"""

from __future__ import annotations

import random

from gateway.database.schema import AnalysisRecord, Review, new_id

__all__ = ["AUDIT_SAMPLE", "audit_review", "draw_audit_case"]

# Who asked for an audit case, in the review and the audit log.
AUDIT_SAMPLE = "audit sample"
_RANDOM = random.SystemRandom()


def draw_audit_case(share: float) -> bool:
    """Whether this analysis joins the audit sample (probability `share`)."""
    return share > 0 and _RANDOM.random() < share


def audit_review(analysis: AnalysisRecord) -> Review:
    """An open review of `analysis`, for any of the clinic's dermatologists, as an audit case."""
    return Review(
        id=new_id(),
        clinic_id=analysis.clinic_id,
        analysis_id=analysis.id,
        patient_id=analysis.patient_id,
        requested_by=AUDIT_SAMPLE,
        audit=True,
    )
