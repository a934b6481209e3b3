"""Patients of a clinic: registered, found, exported and erased on request (GDPR 15 and 17)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select

from gateway.accounts.roles import Action, Principal, clinic_row
from gateway.audit import record
from gateway.database import Database
from gateway.database.schema import AnalysisRecord, Lesion, Patient, Review, new_id
from gateway.records.crypto import FieldCipher
from gateway.records.images import ImageStore
from gateway.records.paging import encode_cursor, newest_first
from skinscan.errors import InvalidRequestError
from skinscan.records import Page, Sex
from skinscan.records import Patient as PatientInfo

__all__ = ["PatientRecords", "patient_info"]

MAX_NAME = 200


def patient_info(row: Patient, cipher: FieldCipher) -> PatientInfo:
    birth = cipher.decrypt(row.birth_date_encrypted) if row.birth_date_encrypted else None
    return PatientInfo(
        id=row.id,
        name=cipher.decrypt(row.name_encrypted),
        sex=Sex(row.sex),
        created_at=row.created_at,
        birth_date=date.fromisoformat(birth) if birth else None,
        age_years=row.age_years,
        identifier=cipher.decrypt(row.identifier_encrypted) if row.identifier_encrypted else None,
    )


def _sex(value: str) -> Sex:
    try:
        return Sex(value)
    except ValueError:
        raise InvalidRequestError("sex must be female, male, other or unknown") from None


class PatientRecords:
    def __init__(self, database: Database, cipher: FieldCipher, images: ImageStore) -> None:
        self.database = database
        self.cipher = cipher
        self.images = images

    async def create(
        self,
        by: Principal,
        name: str,
        sex: str,
        birth_date: date | None = None,
        age_years: int | None = None,
        identifier: str | None = None,
    ) -> PatientInfo:
        by.require(Action.WRITE_RECORDS)
        name = " ".join(name.split())
        if not 1 <= len(name) <= MAX_NAME:
            raise InvalidRequestError(f"give the patient's name (1 to {MAX_NAME} characters)")
        if birth_date is not None and age_years is not None:
            raise InvalidRequestError("give the date of birth or the age, not both")
        if birth_date is not None and not date(1900, 1, 1) <= birth_date <= date.today():
            raise InvalidRequestError("the date of birth must be between 1900 and today")
        if age_years is not None and not 0 <= age_years <= 130:
            raise InvalidRequestError("the age must be between 0 and 130 years")
        identifier = identifier.strip() if identifier else None
        c = self.cipher
        row = Patient(
            id=new_id(),
            clinic_id=by.clinic_id,
            name_encrypted=c.encrypt(name),
            name_index=c.index(name),
            identifier_encrypted=c.encrypt(identifier) if identifier else None,
            identifier_index=c.index(identifier) if identifier else None,
            birth_date_encrypted=c.encrypt(birth_date.isoformat()) if birth_date else None,
            age_years=age_years,
            sex=_sex(sex).value,
            created_by=by.actor,
        )
        async with self.database.transaction() as session:
            session.add(row)
            await session.flush()
            record(session, by.actor, "patient.create", by.clinic_id, "patient", row.id)
        return patient_info(row, c)

    async def get(self, by: Principal, patient_id: str) -> PatientInfo:
        by.require(Action.READ_RECORDS)
        async with self.database.transaction() as session:
            row = await clinic_row(session, Patient, patient_id, by, "patient")
            record(session, by.actor, "patient.view", by.clinic_id, "patient", row.id)
        return patient_info(row, self.cipher)

    async def search(
        self,
        by: Principal,
        name: str | None = None,
        identifier: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[PatientInfo]:
        """The clinic's patients, newest first; `name` and `identifier` match exactly (case and
        spacing ignored)."""
        by.require(Action.READ_RECORDS)
        query = select(Patient).where(Patient.clinic_id == by.clinic_id)
        if name:
            query = query.where(Patient.name_index == self.cipher.index(name))
        if identifier:
            query = query.where(Patient.identifier_index == self.cipher.index(identifier))
        query = newest_first(query, Patient.created_at, Patient.id, limit, cursor)
        async with self.database.transaction() as session:
            rows = list((await session.scalars(query)).all())
            record(
                session,
                by.actor,
                "patient.search",
                by.clinic_id,
                by_name=bool(name),
                by_identifier=bool(identifier),
                count=min(len(rows), limit),
            )
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(
            [patient_info(r, self.cipher) for r in rows],
            encode_cursor(rows[-1].created_at, rows[-1].id) if more else None,
        )

    async def export(self, by: Principal, patient_id: str) -> dict[str, Any]:
        """Everything held about a patient, readable (GDPR article 15)."""
        by.require(Action.READ_RECORDS)
        async with self.database.transaction() as session:
            row = await clinic_row(session, Patient, patient_id, by, "patient")
            lesions = (
                await session.scalars(select(Lesion).where(Lesion.patient_id == row.id))
            ).all()
            analyses = (
                await session.scalars(
                    select(AnalysisRecord)
                    .where(AnalysisRecord.patient_id == row.id)
                    .order_by(AnalysisRecord.created_at)
                )
            ).all()
            reviews = (
                await session.scalars(select(Review).where(Review.patient_id == row.id))
            ).all()
            record(session, by.actor, "patient.export", by.clinic_id, "patient", row.id)
        c = self.cipher
        patient = patient_info(row, c)

        def plain(value: Any) -> Any:
            return value.isoformat() if isinstance(value, date | datetime) else value

        return {
            "patient": {k: plain(v) for k, v in vars(patient).items()},
            "lesions": [
                {
                    "id": lesion.id,
                    "body_site": lesion.body_site,
                    "description": c.decrypt(lesion.description_encrypted)
                    if lesion.description_encrypted
                    else None,
                    "first_seen": lesion.first_seen.isoformat(),
                }
                for lesion in lesions
            ],
            "analyses": [
                {
                    "id": a.id,
                    "lesion_id": a.lesion_id,
                    "created_at": a.created_at.isoformat(),
                    "image_sha256": a.image_sha256,
                    "result": a.result,
                }
                for a in analyses
            ],
            "reviews": [
                {
                    "id": r.id,
                    "analysis_id": r.analysis_id,
                    "status": r.status,
                    "diagnosis": r.diagnosis,
                    "method": r.method,
                    "note": c.decrypt(r.request_note_encrypted)
                    if r.request_note_encrypted
                    else None,
                    "review_note": c.decrypt(r.review_note_encrypted)
                    if r.review_note_encrypted
                    else None,
                    "reviewed_at": plain(r.reviewed_at),
                }
                for r in reviews
            ],
        }

    async def erase(self, by: Principal, patient_id: str) -> None:
        """Deletes a patient with every lesion, analysis, review and kept image (GDPR article 17).

        The audit log keeps that the erasure happened, by whom and of which id; it
        never held the patient's name.
        """
        by.require(Action.ERASE_RECORDS)  # admins only: erasure cannot be undone
        async with self.database.transaction() as session:
            row = await clinic_row(session, Patient, patient_id, by, "patient")
            kept = (
                await session.scalars(
                    select(AnalysisRecord.image_path).where(
                        AnalysisRecord.patient_id == row.id, AnalysisRecord.image_path.is_not(None)
                    )
                )
            ).all()
            for table in (Review, AnalysisRecord, Lesion):
                await session.execute(delete(table).where(table.patient_id == row.id))
            await session.delete(row)
            record(
                session,
                by.actor,
                "patient.erase",
                by.clinic_id,
                "patient",
                row.id,
                images=len(kept),
            )
        for path in kept:
            if path:
                await self.images.remove(path)
