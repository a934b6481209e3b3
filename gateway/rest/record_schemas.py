"""REST bodies of patient records, as OpenAPI documents them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.records.performance import ModelPerformance, Rate
from gateway.rest.schemas import AnalysisBody
from skinscan.records import BODY_SITES

__all__ = [
    "ClinicBody",
    "ClinicUpdateBody",
    "LesionBody",
    "NewLesionBody",
    "NewPatientBody",
    "NewReviewBody",
    "PatientBody",
    "PatientPage",
    "RecordedAnalysisBody",
    "RecordedAnalysisPage",
    "ReviewBody",
    "ReviewDecisionBody",
]

SexName = Literal["female", "male", "other", "unknown"]
DiagnosisCode = Literal["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
MethodName = Literal["histopathology", "expert_consensus", "follow_up"]


class NewPatientBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Ada Lovelace",
                    "sex": "female",
                    "birth_date": "1990-12-10",
                    "identifier": "MRN-1042",
                }
            ]
        },
    )

    name: str = Field(description="Stored encrypted; found again by exact match.")
    sex: SexName
    birth_date: date | None = Field(None, description="Or `age_years`, not both.")
    age_years: int | None = None
    identifier: str | None = Field(
        None, description="The clinic's own, e.g. a medical record number."
    )


class PatientBody(BaseModel):
    id: str
    name: str
    sex: SexName
    created_at: datetime
    birth_date: date | None = None
    age_years: int | None = None
    identifier: str | None = None


class PatientPage(BaseModel):
    items: list[PatientBody]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page.")


class NewLesionBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"body_site": "upper_extremity", "description": "left forearm"}]
        },
    )

    body_site: str = Field(json_schema_extra={"enum": list(BODY_SITES)})
    description: str | None = Field(None, description="Stored encrypted.")
    first_seen: date | None = Field(None, description="Today when not given.")


class LesionBody(BaseModel):
    id: str
    patient_id: str
    body_site: str = Field(json_schema_extra={"enum": list(BODY_SITES)})
    first_seen: date
    created_at: datetime
    description: str | None = None


class RecordedAnalysisBody(BaseModel):
    id: str
    lesion_id: str
    patient_id: str
    created_at: datetime
    created_by: str = Field(description='"user:<id>" or "api_key:<id>".')
    image_sha256: str = Field(description="Fingerprint of the uploaded bytes.")
    image_kept: bool = Field(description="Whether the clinic keeps the (encrypted) image.")
    analysis: AnalysisBody


class RecordedAnalysisPage(BaseModel):
    items: list[RecordedAnalysisBody]
    next_cursor: str | None = None


class NewReviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, description="For the dermatologist; stored encrypted.")
    assign_to: str | None = Field(None, description="A dermatologist's user id; any when unset.")


class ReviewDecisionBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"diagnosis": "mel", "method": "histopathology"}]},
    )

    diagnosis: DiagnosisCode
    method: MethodName
    note: str | None = None


class ReviewBody(BaseModel):
    id: str
    analysis_id: str
    patient_id: str
    status: Literal["open", "done"]
    requested_by: str
    requested_at: datetime
    note: str | None = None
    assigned_to: str | None = None
    diagnosis: DiagnosisCode | None = None
    method: MethodName | None = None
    review_note: str | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    audit: bool = Field(
        False,
        description="an audit case: drawn at random from the clinic's assessable analyses, "
        "not chosen by a clinician",
    )


class ClinicBody(BaseModel):
    id: str
    name: str
    keep_images: bool
    image_retention_days: int
    audit_share: float = Field(
        description="share of assessable analyses drawn at random for a dermatologist's "
        "confirmation (audit cases)"
    )


class ClinicUpdateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keep_images: bool | None = None
    image_retention_days: int | None = None
    audit_share: float | None = Field(
        None, description="0 (no audit sample) to 1; for example 0.1 for one analysis in ten"
    )


class RateBody(BaseModel):
    hits: int
    total: int
    value: float | None = Field(None, description="hits / total; null when total is 0")
    interval_95: tuple[float, float] | None = Field(None, description="Wilson score interval, 95%")

    @classmethod
    def of(cls, rate: Rate) -> RateBody:
        return cls(hits=rate.hits, total=rate.total, value=rate.value, interval_95=rate.interval)


class ModelPerformanceBody(BaseModel):
    """A model version's record on confirmed cases: malignant (mel, bcc, akiec) is positive."""

    model_name: str
    model_version: str
    confirmed: int
    not_assessable: int
    true_positives: int
    false_negatives: int
    true_negatives: int
    false_positives: int
    sensitivity: RateBody
    specificity: RateBody

    @classmethod
    def of(cls, model: ModelPerformance) -> ModelPerformanceBody:
        return cls(
            model_name=model.model_name,
            model_version=model.model_version,
            confirmed=model.confirmed,
            not_assessable=model.not_assessable,
            true_positives=model.true_positives,
            false_negatives=model.false_negatives,
            true_negatives=model.true_negatives,
            false_positives=model.false_positives,
            sensitivity=RateBody.of(model.sensitivity),
            specificity=RateBody.of(model.specificity),
        )
