"""Lesions of a patient, each at a body site from a fixed list."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from gateway.accounts.roles import Action, Principal, clinic_row
from gateway.audit import record
from gateway.database import Database
from gateway.database.schema import Lesion, Patient, new_id
from gateway.records.crypto import FieldCipher
from skinscan.errors import InvalidRequestError
from skinscan.records import BODY_SITES
from skinscan.records import Lesion as LesionInfo

__all__ = ["LesionRecords", "lesion_info"]

MAX_DESCRIPTION = 500


def lesion_info(row: Lesion, cipher: FieldCipher) -> LesionInfo:
    return LesionInfo(
        id=row.id,
        patient_id=row.patient_id,
        body_site=row.body_site,
        first_seen=row.first_seen,
        created_at=row.created_at,
        description=cipher.decrypt(row.description_encrypted)
        if row.description_encrypted
        else None,
    )


class LesionRecords:
    def __init__(self, database: Database, cipher: FieldCipher) -> None:
        self.database = database
        self.cipher = cipher

    async def create(
        self,
        by: Principal,
        patient_id: str,
        body_site: str,
        description: str | None = None,
        first_seen: date | None = None,
    ) -> LesionInfo:
        by.require(Action.WRITE_RECORDS)
        if body_site not in BODY_SITES:
            raise InvalidRequestError(f"body_site must be one of: {', '.join(BODY_SITES)}")
        if description and len(description) > MAX_DESCRIPTION:
            raise InvalidRequestError(
                f"the description is longer than {MAX_DESCRIPTION} characters"
            )
        seen = first_seen or date.today()
        if seen > date.today():
            raise InvalidRequestError("first_seen cannot be in the future")
        async with self.database.transaction() as session:
            patient = await clinic_row(session, Patient, patient_id, by, "patient")
            row = Lesion(
                id=new_id(),
                clinic_id=patient.clinic_id,
                patient_id=patient.id,
                body_site=body_site,
                description_encrypted=self.cipher.encrypt(description) if description else None,
                first_seen=seen,
            )
            session.add(row)
            await session.flush()
            record(session, by.actor, "lesion.create", by.clinic_id, "lesion", row.id)
        return lesion_info(row, self.cipher)

    async def get(self, by: Principal, lesion_id: str) -> LesionInfo:
        by.require(Action.READ_RECORDS)
        async with self.database.transaction() as session:
            row = await clinic_row(session, Lesion, lesion_id, by, "lesion")
            record(session, by.actor, "lesion.view", by.clinic_id, "lesion", row.id)
        return lesion_info(row, self.cipher)

    async def of_patient(self, by: Principal, patient_id: str) -> list[LesionInfo]:
        by.require(Action.READ_RECORDS)
        async with self.database.transaction() as session:
            patient = await clinic_row(session, Patient, patient_id, by, "patient")
            rows = (
                await session.scalars(
                    select(Lesion)
                    .where(Lesion.patient_id == patient.id)
                    .order_by(Lesion.created_at)
                )
            ).all()
            record(session, by.actor, "lesion.list", by.clinic_id, "patient", patient.id)
        return [lesion_info(r, self.cipher) for r in rows]
