"""Patient records: patients, lesions, recorded analyses, reviews, FHIR export, kept images.

Identifying fields are encrypted at rest (gateway.records.crypto); every read
and change is in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.analysis_service import AnalysisService
from gateway.database import Database
from gateway.records.analyses import AnalysisRecords
from gateway.records.clinic import ClinicSettings
from gateway.records.crypto import FieldCipher
from gateway.records.images import ImageStore
from gateway.records.lesions import LesionRecords
from gateway.records.patients import PatientRecords
from gateway.records.reviews import ReviewRecords
from gateway.surveillance.thresholds import ClinicThresholds

__all__ = ["Records"]


@dataclass(frozen=True)
class Records:
    patients: PatientRecords
    lesions: LesionRecords
    analyses: AnalysisRecords
    reviews: ReviewRecords
    clinic: ClinicSettings
    images: ImageStore
    thresholds: ClinicThresholds

    @classmethod
    def build(
        cls,
        database: Database,
        cipher: FieldCipher,
        analyses: AnalysisService,
        image_store: str | Path,
        thresholds: ClinicThresholds | None = None,
    ) -> Records:
        images = ImageStore(image_store, cipher)
        return cls(
            patients=PatientRecords(database, cipher, images),
            lesions=LesionRecords(database, cipher),
            analyses=AnalysisRecords(database, analyses, images, cipher),
            reviews=ReviewRecords(database, cipher),
            clinic=ClinicSettings(database),
            images=images,
            thresholds=thresholds or ClinicThresholds(database),
        )
