"""REST bodies of patient records, as OpenAPI documents them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.rest.schemas import AnalysisBody
from gateway.surveillance.performance import Tally, VersionPerformance
from gateway.surveillance.statistics import Proposal, Rate
from gateway.surveillance.thresholds import ThresholdInForce
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
    lower_bound_95: float | None = Field(
        None, description="one-sided exact (Clopper-Pearson) lower 95% bound"
    )

    @classmethod
    def of(cls, rate: Rate) -> RateBody:
        return cls(
            hits=rate.hits,
            total=rate.total,
            value=rate.value,
            interval_95=rate.interval,
            lower_bound_95=rate.lower_bound,
        )


class TallyBody(BaseModel):
    """Confirmed cases against what was decided: malignant (mel, bcc, akiec) is positive."""

    confirmed: int
    not_assessable: int
    true_positives: int
    false_negatives: int
    true_negatives: int
    false_positives: int
    sensitivity: RateBody
    specificity: RateBody

    @classmethod
    def of(cls, tally: Tally) -> TallyBody:
        return cls(
            confirmed=tally.confirmed,
            not_assessable=tally.not_assessable,
            true_positives=tally.true_positives,
            false_negatives=tally.false_negatives,
            true_negatives=tally.true_negatives,
            false_positives=tally.false_positives,
            sensitivity=RateBody.of(tally.sensitivity),
            specificity=RateBody.of(tally.specificity),
        )


class ThresholdBody(BaseModel):
    """A clinic threshold, adopted (and perhaps withdrawn) by an admin."""

    id: str
    model_name: str
    model_version: str
    threshold: float
    basis: str = Field(description="what results decided by it say")
    model_threshold: float
    target_sensitivity: float
    audit_cases: int
    malignant_cases: int
    sensitivity_lower_bound: float = Field(
        description="on the audit cases it was fitted on, one-sided exact lower 95% bound"
    )
    adopted_at: datetime
    adopted_by: str
    withdrawn_at: datetime | None = None
    withdrawn_by: str | None = None

    @classmethod
    def of(cls, t: ThresholdInForce) -> ThresholdBody:
        return cls(basis=t.basis, **{f: getattr(t, f) for f in _THRESHOLD_FIELDS})


_THRESHOLD_FIELDS = tuple(
    f for f in ThresholdInForce.__dataclass_fields__ if f in ThresholdBody.model_fields
)


class ProposalBody(BaseModel):
    """The threshold the clinic's confirmed audit cases support, against the model's."""

    threshold: float | None = Field(
        None,
        description="the highest threshold whose sensitivity's one-sided lower 95% bound on "
        "the audit cases meets the target; null until there are enough cases",
    )
    target_sensitivity: float
    audit_cases: int
    malignant_cases: int
    more_malignant_needed: int = Field(
        description="confirmed malignant audit cases still needed before one is proposed"
    )
    sensitivity: RateBody | None = None
    specificity: RateBody | None = None
    specificity_interval_95: tuple[float, float] | None = Field(
        None, description="percentile bootstrap over cases, the threshold chosen on each draw"
    )
    model_threshold: float
    model_sensitivity: RateBody
    model_specificity: RateBody

    @classmethod
    def of(cls, p: Proposal) -> ProposalBody:
        return cls(
            threshold=p.threshold,
            target_sensitivity=p.target,
            audit_cases=p.cases,
            malignant_cases=p.malignant,
            more_malignant_needed=p.more_malignant_needed,
            sensitivity=RateBody.of(p.sensitivity) if p.sensitivity else None,
            specificity=RateBody.of(p.specificity) if p.specificity else None,
            specificity_interval_95=p.specificity_interval,
            model_threshold=p.model_threshold,
            model_sensitivity=RateBody.of(p.model_sensitivity),
            model_specificity=RateBody.of(p.model_specificity),
        )


class ModelPerformanceBody(BaseModel):
    """A model version at this clinic: its audit cases at the threshold in force, the cases
    clinicians chose beside them, and the threshold the audit cases support."""

    model_name: str
    model_version: str
    threshold: float | None = Field(None, description="the threshold in force here")
    threshold_basis: str = Field(description="which: the model's, or the clinic's own")
    model_threshold: float | None = None
    target_sensitivity: float | None = None
    audit: TallyBody = Field(
        description="audit cases (drawn at random), scored at the threshold in force: the "
        "clinic's estimate"
    )
    chosen: TallyBody = Field(
        description="cases clinicians chose to send, as recorded: leaning to the suspicious, "
        "never an estimate"
    )
    proposal: ProposalBody | None = None
    warning: str | None = Field(
        None, description="set when the audit cases show the promised sensitivity is not met"
    )
    # Before audit cases existed: every confirmed case as recorded, both kinds together.
    confirmed: int = Field(description="deprecated: every confirmed case; read audit, chosen")
    not_assessable: int = Field(description="deprecated: see confirmed")
    true_positives: int = Field(description="deprecated: see confirmed")
    false_negatives: int = Field(description="deprecated: see confirmed")
    true_negatives: int = Field(description="deprecated: see confirmed")
    false_positives: int = Field(description="deprecated: see confirmed")
    sensitivity: RateBody = Field(description="deprecated: see confirmed")
    specificity: RateBody = Field(description="deprecated: see confirmed")

    @classmethod
    def of(cls, model: VersionPerformance) -> ModelPerformanceBody:
        recorded = TallyBody.of(model.recorded)
        return cls(
            model_name=model.model_name,
            model_version=model.model_version,
            threshold=model.threshold,
            threshold_basis=model.threshold_basis,
            model_threshold=model.model_threshold,
            target_sensitivity=model.target_sensitivity,
            audit=TallyBody.of(model.audit),
            chosen=TallyBody.of(model.chosen),
            proposal=ProposalBody.of(model.proposal) if model.proposal else None,
            warning=model.warning,
            **recorded.model_dump(exclude={"sensitivity", "specificity"}),
            sensitivity=recorded.sensitivity,
            specificity=recorded.specificity,
        )


class AdoptThresholdBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_name: str = Field(min_length=1, max_length=100)
    model_version: str = Field(min_length=1, max_length=32)
