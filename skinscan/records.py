"""Patient records as the SDK sees them: patients, lesions, recorded analyses, reviews."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Generic, TypeVar

from skinscan.analysis import Analysis

__all__ = [
    "BODY_SITES",
    "Lesion",
    "Page",
    "Patient",
    "RecordedAnalysis",
    "Review",
    "ReviewMethod",
    "ReviewStatus",
    "Sex",
]

# Where a lesion is, in HAM10000's vocabulary (the training data's own).
BODY_SITES = (
    "abdomen",
    "acral",
    "back",
    "chest",
    "ear",
    "face",
    "foot",
    "genital",
    "hand",
    "lower_extremity",
    "neck",
    "scalp",
    "trunk",
    "upper_extremity",
    "unknown",
)


class Sex(StrEnum):
    """FHIR's administrative gender."""

    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class ReviewMethod(StrEnum):
    """How a dermatologist confirmed a diagnosis (HAM10000's dx_type, in words)."""

    HISTOPATHOLOGY = "histopathology"
    EXPERT_CONSENSUS = "expert_consensus"
    FOLLOW_UP = "follow_up"


class ReviewStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


@dataclass(frozen=True)
class Patient:
    id: str
    name: str
    sex: Sex
    created_at: datetime
    birth_date: date | None = None
    age_years: int | None = None  # when registered, for patients without a date of birth
    identifier: str | None = None  # the clinic's own (e.g. medical record number)


@dataclass(frozen=True)
class Lesion:
    id: str
    patient_id: str
    body_site: str
    first_seen: date
    created_at: datetime
    description: str | None = None


@dataclass(frozen=True)
class RecordedAnalysis:
    """An analysis kept in a lesion's record: the result, and who asked when."""

    id: str
    lesion_id: str
    patient_id: str
    created_at: datetime
    created_by: str
    image_sha256: str
    analysis: Analysis
    image_kept: bool = False


@dataclass(frozen=True)
class Review:
    id: str
    analysis_id: str
    patient_id: str
    status: ReviewStatus
    requested_by: str
    requested_at: datetime
    note: str | None = None
    assigned_to: str | None = None
    diagnosis: str | None = None  # a HAM10000 code: nv, mel, bkl, bcc, akiec, vasc, df
    method: ReviewMethod | None = None
    review_note: str | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    # An audit case: drawn at random from the clinic's analyses, not chosen by a clinician.
    audit: bool = False


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; pass `next_cursor` back for the next, until it is None."""

    items: list[T] = field(default_factory=list)
    next_cursor: str | None = None
