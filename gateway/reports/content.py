"""Everything a report about one analysis holds, gathered under the reader's permissions."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.accounts import Principal
from gateway.records import Records
from skinscan.records import Lesion, Patient, RecordedAnalysis, Review

__all__ = ["ReportContent", "gather"]


@dataclass(frozen=True)
class ReportContent:
    clinic_name: str
    patient: Patient
    lesion: Lesion
    analysis: RecordedAnalysis
    reviews: list[Review]
    image: bytes | None  # None unless the clinic keeps images


async def gather(records: Records, by: Principal, analysis_id: str) -> ReportContent:
    analysis = await records.analyses.get(by, analysis_id)
    return ReportContent(
        clinic_name=(await records.clinic.get(by)).name,
        patient=await records.patients.get(by, analysis.patient_id),
        lesion=await records.lesions.get(by, analysis.lesion_id),
        analysis=analysis,
        reviews=await records.reviews.queue(by, status="", analysis_id=analysis_id),
        image=await records.analyses.image(by, analysis_id),
    )
