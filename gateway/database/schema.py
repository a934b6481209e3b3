"""The tables, as SQLAlchemy 2 typed mappings. docs/database.md describes them.

A change here needs a migration beside it (migrations/versions); the test
`test_migrations_match_the_schema` fails when the two differ.

Identifiers are random 128-bit hex strings: they reveal nothing (no counts, no
order), travel in URLs and logs without identifying anyone, and are the same
on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AnalysisRecord",
    "ApiKey",
    "AuditEvent",
    "Base",
    "Clinic",
    "Lesion",
    "Patient",
    "RefreshToken",
    "Review",
    "User",
    "new_id",
    "utc_now",
]


def new_id() -> str:
    return uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, also on SQLite (which stores no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: give times in UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime, dict[str, Any]: JSON}


class Clinic(Base):
    """A tenant: its users, patients and records are seen by nobody else."""

    __tablename__ = "clinics"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # Uploaded images are kept (encrypted) only when the clinic opts in.
    keep_images: Mapped[bool] = mapped_column(Boolean, default=False)
    image_retention_days: Mapped[int] = mapped_column(Integer, default=30)
    # The share of assessable analyses drawn at random for a dermatologist's confirmation
    # (gateway.surveillance): the unbiased cases the clinic's performance is measured on.
    audit_share: Mapped[float] = mapped_column(Float, default=0.0)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"), index=True)
    # Stored lower-case: sign-in ignores case, and two accounts never differ only by it.
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # Access tokens issued before this are refused: set on a password change,
    # on disabling, and on signing out everywhere.
    tokens_valid_after: Mapped[datetime] = mapped_column(default=utc_now)


class RefreshToken(Base):
    """One refresh token; only its SHA-256 is stored.

    Tokens of one sign-in form a family: each refresh uses one and issues the
    next. A used token presented again means it was stolen, and the whole
    family is revoked (OAuth 2.0 Security BCP, refresh token rotation).
    """

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    family_id: Mapped[str] = mapped_column(String(32), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class ApiKey(Base):
    """A key for an SDK or service client, scoped to one clinic and role.

    The secret is shown once at creation; only its SHA-256 is stored (the
    secret is 256 random bits, so a slow hash adds nothing).
    """

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class AuditEvent(Base):
    """Who did what to which record, and whether it was allowed.

    Holds identifiers only, never a name or an image: the log itself must not
    become a copy of the patient data it watches over.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
    clinic_id: Mapped[str | None] = mapped_column(String(32), index=True, default=None)
    # "user:<id>", "api_key:<id>", "system" or "anonymous".
    actor: Mapped[str] = mapped_column(String(48))
    action: Mapped[str] = mapped_column(String(48))
    target_type: Mapped[str | None] = mapped_column(String(32), default=None)
    target_id: Mapped[str | None] = mapped_column(String(32), default=None)
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Patient(Base):
    """A patient of one clinic. Name, identifier and date of birth are stored encrypted.

    `name_index` and `identifier_index` are keyed hashes (HMAC) of the
    normalised values, so an exact search works without decrypting every row
    and without the database ever holding the value in clear.
    """

    __tablename__ = "patients"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"), index=True)
    name_encrypted: Mapped[str] = mapped_column(Text)
    name_index: Mapped[str] = mapped_column(String(64), index=True)
    identifier_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    identifier_index: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    birth_date_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    # Age in years when registered, for patients whose date of birth is not given.
    age_years: Mapped[int | None] = mapped_column(Integer, default=None)
    sex: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
    created_by: Mapped[str] = mapped_column(String(48))


class Lesion(Base):
    __tablename__ = "lesions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"), index=True)
    patient_id: Mapped[str] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    body_site: Mapped[str] = mapped_column(String(32))
    # Free text can name people: encrypted like the patient's fields.
    description_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    first_seen: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class AnalysisRecord(Base):
    """One analysis of an image of a lesion, as returned, with who asked and when."""

    __tablename__ = "analyses"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"), index=True)
    lesion_id: Mapped[str] = mapped_column(ForeignKey("lesions.id", ondelete="CASCADE"), index=True)
    patient_id: Mapped[str] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    # SHA-256 of the uploaded bytes: ties the record to an image without keeping it.
    image_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
    created_by: Mapped[str] = mapped_column(String(48))
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(32))
    assessable: Mapped[bool] = mapped_column(Boolean)
    label: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    malignant_probability: Mapped[float | None] = mapped_column(Float, default=None)
    # The whole result (findings, diagnosis, heat map) as the API returned it.
    result: Mapped[dict[str, Any]] = mapped_column()
    # Only when the clinic keeps images: the encrypted file and when it goes.
    image_path: Mapped[str | None] = mapped_column(String(300), default=None)
    image_expires_at: Mapped[datetime | None] = mapped_column(default=None, index=True)


class Review(Base):
    """A case sent to a dermatologist, and what they confirmed."""

    __tablename__ = "reviews"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"), index=True)
    analysis_id: Mapped[str] = mapped_column(
        ForeignKey("analyses.id", ondelete="CASCADE"), index=True
    )
    patient_id: Mapped[str] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    requested_by: Mapped[str] = mapped_column(String(48))
    requested_at: Mapped[datetime] = mapped_column(default=utc_now)
    # A named dermatologist, or any of the clinic's when unset.
    assigned_to: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    request_note_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    # Drawn by the audit sample rather than chosen by a clinician: never mixed in estimates.
    audit: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    diagnosis: Mapped[str | None] = mapped_column(String(16), default=None)
    method: Mapped[str | None] = mapped_column(String(32), default=None)
    review_note_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    reviewed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    reviewed_at: Mapped[datetime | None] = mapped_column(default=None)


class ClinicThreshold(Base):
    """A referral threshold a clinic's admin adopted for one model version, from its audit
    cases (gateway.surveillance); withdrawn, it stays on record and the model's decides again."""

    __tablename__ = "clinic_thresholds"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"), index=True)
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(32))
    threshold: Mapped[float] = mapped_column(Float)
    # What it was fitted from and to keep, as the proposal said at adoption.
    model_threshold: Mapped[float] = mapped_column(Float)
    target_sensitivity: Mapped[float] = mapped_column(Float)
    audit_cases: Mapped[int] = mapped_column(Integer)
    malignant_cases: Mapped[int] = mapped_column(Integer)
    sensitivity_lower_bound: Mapped[float] = mapped_column(Float)
    adopted_at: Mapped[datetime] = mapped_column(default=utc_now)
    adopted_by: Mapped[str] = mapped_column(String(48))
    withdrawn_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    withdrawn_by: Mapped[str | None] = mapped_column(String(48), default=None)
