"""Patient records <-> skinscan.v1 RecordService messages (no gRPC here)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from skinscan.errors import InvalidRequestError
from skinscan.proto_convert import analysis_from_proto, analysis_to_proto
from skinscan.records import (
    Lesion,
    Patient,
    RecordedAnalysis,
    Review,
    ReviewMethod,
    ReviewStatus,
    Sex,
)
from skinscan.streaming import read_image, upload_messages
from skinscan.v1 import analysis_pb2
from skinscan.v1 import record_service_pb2 as pb

__all__ = [
    "create_patient_request",
    "lesion_from_proto",
    "lesion_image_upload",
    "lesion_to_proto",
    "optional_date",
    "optional_moment",
    "patient_from_proto",
    "patient_to_proto",
    "recorded_from_proto",
    "recorded_to_proto",
    "review_from_proto",
    "review_to_proto",
    "stamp",
]


def stamp(moment: datetime | None) -> Timestamp | None:
    if moment is None:
        return None
    value = Timestamp()
    value.FromDatetime(moment)
    return value


def optional_moment(message: object, field: str) -> datetime | None:
    if not message.HasField(field):  # type: ignore[attr-defined]
        return None
    value: Timestamp = getattr(message, field)
    return value.ToDatetime(tzinfo=UTC)


def _moment(message: object, field: str) -> datetime:
    moment = optional_moment(message, field)
    return moment if moment is not None else datetime.fromtimestamp(0, UTC)


def optional_date(text: str, field: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidRequestError(f"{field} must be a date as YYYY-MM-DD") from None


def patient_to_proto(p: Patient) -> pb.Patient:
    return pb.Patient(
        id=p.id,
        name=p.name,
        sex=p.sex.value,
        birth_date=p.birth_date.isoformat() if p.birth_date else "",
        age_years=p.age_years,
        identifier=p.identifier or "",
        created_at=stamp(p.created_at),
    )


def patient_from_proto(m: pb.Patient) -> Patient:
    return Patient(
        id=m.id,
        name=m.name,
        sex=Sex(m.sex),
        created_at=_moment(m, "created_at"),
        birth_date=optional_date(m.birth_date, "birth_date"),
        age_years=m.age_years if m.HasField("age_years") else None,
        identifier=m.identifier or None,
    )


def lesion_to_proto(lesion: Lesion) -> pb.Lesion:
    return pb.Lesion(
        id=lesion.id,
        patient_id=lesion.patient_id,
        body_site=lesion.body_site,
        description=lesion.description or "",
        first_seen=lesion.first_seen.isoformat(),
        created_at=stamp(lesion.created_at),
    )


def lesion_from_proto(m: pb.Lesion) -> Lesion:
    seen = optional_date(m.first_seen, "first_seen")
    assert seen is not None
    return Lesion(
        id=m.id,
        patient_id=m.patient_id,
        body_site=m.body_site,
        first_seen=seen,
        created_at=_moment(m, "created_at"),
        description=m.description or None,
    )


def recorded_to_proto(r: RecordedAnalysis) -> pb.RecordedAnalysis:
    return pb.RecordedAnalysis(
        id=r.id,
        lesion_id=r.lesion_id,
        patient_id=r.patient_id,
        created_at=stamp(r.created_at),
        created_by=r.created_by,
        image_sha256=r.image_sha256,
        image_kept=r.image_kept,
        analysis=analysis_to_proto(r.analysis),
    )


def recorded_from_proto(m: pb.RecordedAnalysis) -> RecordedAnalysis:
    return RecordedAnalysis(
        id=m.id,
        lesion_id=m.lesion_id,
        patient_id=m.patient_id,
        created_at=_moment(m, "created_at"),
        created_by=m.created_by,
        image_sha256=m.image_sha256,
        analysis=analysis_from_proto(m.analysis),
        image_kept=m.image_kept,
    )


def review_to_proto(r: Review) -> pb.Review:
    return pb.Review(
        id=r.id,
        analysis_id=r.analysis_id,
        patient_id=r.patient_id,
        status=r.status.value,
        requested_by=r.requested_by,
        requested_at=stamp(r.requested_at),
        note=r.note or "",
        assigned_to=r.assigned_to or "",
        diagnosis=r.diagnosis or "",
        method=r.method.value if r.method else "",
        review_note=r.review_note or "",
        reviewed_by=r.reviewed_by or "",
        reviewed_at=stamp(r.reviewed_at),
        audit=r.audit,
    )


def review_from_proto(m: pb.Review) -> Review:
    return Review(
        id=m.id,
        analysis_id=m.analysis_id,
        patient_id=m.patient_id,
        status=ReviewStatus(m.status),
        requested_by=m.requested_by,
        requested_at=_moment(m, "requested_at"),
        note=m.note or None,
        assigned_to=m.assigned_to or None,
        diagnosis=m.diagnosis or None,
        method=ReviewMethod(m.method) if m.method else None,
        review_note=m.review_note or None,
        reviewed_by=m.reviewed_by or None,
        reviewed_at=optional_moment(m, "reviewed_at"),
        audit=m.audit,
    )


def create_patient_request(
    name: str,
    sex: str,
    birth_date: date | None,
    age_years: int | None,
    identifier: str | None,
) -> pb.CreatePatientRequest:
    return pb.CreatePatientRequest(
        name=name,
        sex=sex,
        birth_date=birth_date.isoformat() if birth_date else "",
        age_years=age_years,
        identifier=identifier or "",
    )


def lesion_image_upload(lesion_id: str, image: str | Path | bytes) -> list[Any]:
    """The messages of an AnalyzeLesion stream. The file's name is not sent: it is not kept."""
    data, _ = read_image(image)
    metadata = pb.LesionImageMetadata(
        lesion_id=lesion_id, image=analysis_pb2.ImageMetadata(size_bytes=len(data))
    )
    return upload_messages(pb.AnalyzeLesionRequest, "metadata", metadata, data)
