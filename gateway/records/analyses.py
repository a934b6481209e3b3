"""Analyses kept in a lesion's record, and the lesion's history over time."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from gateway.accounts.roles import Action, Principal, clinic_row
from gateway.analysis_service import AnalysisService
from gateway.audit import record
from gateway.database import Database
from gateway.database.schema import AnalysisRecord, Clinic, Lesion, Patient, new_id, utc_now
from gateway.records.crypto import FieldCipher
from gateway.records.fhir import diagnostic_report
from gateway.records.images import ImageStore
from gateway.records.lesions import lesion_info
from gateway.records.paging import encode_cursor, newest_first
from gateway.records.patients import patient_info
from gateway.surveillance.audit_sample import AUDIT_SAMPLE, audit_review, draw_audit_case
from skinscan.analysis import Analysis
from skinscan.errors import InvalidRequestError
from skinscan.records import Page, RecordedAnalysis

__all__ = ["AnalysisRecords", "recorded"]

LABELS = ("benign", "malignant", "not_assessable")


def recorded(row: AnalysisRecord) -> RecordedAnalysis:
    return RecordedAnalysis(
        id=row.id,
        lesion_id=row.lesion_id,
        patient_id=row.patient_id,
        created_at=row.created_at,
        created_by=row.created_by,
        image_sha256=row.image_sha256,
        analysis=Analysis.from_dict(row.result),
        image_kept=row.image_path is not None,
    )


class AnalysisRecords:
    def __init__(
        self,
        database: Database,
        analyses: AnalysisService,
        images: ImageStore,
        cipher: FieldCipher,
    ) -> None:
        self.database = database
        self.analyses = analyses
        self.images = images
        self.cipher = cipher

    async def analyze(self, by: Principal, lesion_id: str, data: bytes) -> RecordedAnalysis:
        """Analyses an image of a lesion and keeps the result in the lesion's record."""
        by.require(Action.WRITE_RECORDS)
        async with self.database.transaction() as session:
            lesion = await clinic_row(session, Lesion, lesion_id, by, "lesion")
            clinic = await session.get(Clinic, lesion.clinic_id)
            assert clinic is not None
            keep, retention = clinic.keep_images, clinic.image_retention_days
            audit_share = clinic.audit_share
            patient_id = lesion.patient_id
        # Outside any transaction: the analysis takes a while. No file name
        # travels on: the services log names, and a name can identify a patient.
        analysis = await self.analyses.analyze(by, data, "")
        now = utc_now()
        row = AnalysisRecord(
            id=new_id(),
            clinic_id=by.clinic_id,
            lesion_id=lesion_id,
            patient_id=patient_id,
            image_sha256=hashlib.sha256(data).hexdigest(),
            created_at=now,
            created_by=by.actor,
            model_name=analysis.model.name,
            model_version=analysis.model.version,
            assessable=analysis.assessable,
            label=analysis.label if analysis.assessable else "not_assessable",
            malignant_probability=analysis.malignant_probability if analysis.assessable else None,
            result=analysis.to_dict(),
        )
        if keep:
            row.image_path = await self.images.keep(row.id, data)
            row.image_expires_at = now + timedelta(days=retention)
        try:
            async with self.database.transaction() as session:
                session.add(row)
                record(
                    session,
                    by.actor,
                    "analysis.create",
                    by.clinic_id,
                    "analysis",
                    row.id,
                    image_kept=keep,
                )
                if analysis.assessable and draw_audit_case(audit_share):
                    await session.flush()  # the review refers to the analysis's row
                    session.add(audit_review(row))
                    record(
                        session,
                        AUDIT_SAMPLE,
                        "review.audit_sample",
                        by.clinic_id,
                        "analysis",
                        row.id,
                        share=audit_share,
                    )
        except BaseException:
            if row.image_path:
                await self.images.remove(row.image_path)
            raise
        return recorded(row)

    async def get(self, by: Principal, analysis_id: str) -> RecordedAnalysis:
        by.require(Action.READ_RECORDS)
        async with self.database.transaction() as session:
            row = await clinic_row(session, AnalysisRecord, analysis_id, by, "analysis")
            record(session, by.actor, "analysis.view", by.clinic_id, "analysis", row.id)
        return recorded(row)

    async def image(self, by: Principal, analysis_id: str) -> bytes | None:
        """The analysed image, decrypted, if the clinic kept it (and it is not yet purged)."""
        by.require(Action.READ_RECORDS)
        async with self.database.transaction() as session:
            row = await clinic_row(session, AnalysisRecord, analysis_id, by, "analysis")
            name = row.image_path
            if name is not None:
                record(session, by.actor, "analysis.view_image", by.clinic_id, "analysis", row.id)
        if name is None:
            return None
        try:
            return await self.images.read(name)
        except FileNotFoundError:
            # Purged between the read of the row and of the file.
            return None

    async def search(
        self,
        by: Principal,
        lesion_id: str | None = None,
        patient_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        label: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[RecordedAnalysis]:
        """The clinic's recorded analyses, newest first, filtered by lesion, patient, date, label."""
        by.require(Action.READ_RECORDS)
        if label is not None and label not in LABELS:
            raise InvalidRequestError(f"label must be one of: {', '.join(LABELS)}")
        query = select(AnalysisRecord).where(AnalysisRecord.clinic_id == by.clinic_id)
        if lesion_id:
            query = query.where(AnalysisRecord.lesion_id == lesion_id)
        if patient_id:
            query = query.where(AnalysisRecord.patient_id == patient_id)
        if since:
            query = query.where(AnalysisRecord.created_at >= since)
        if until:
            query = query.where(AnalysisRecord.created_at < until)
        if label:
            query = query.where(AnalysisRecord.label == label)
        query = newest_first(query, AnalysisRecord.created_at, AnalysisRecord.id, limit, cursor)
        async with self.database.transaction() as session:
            if lesion_id:
                await clinic_row(session, Lesion, lesion_id, by, "lesion")
            rows = list((await session.scalars(query)).all())
            record(
                session,
                by.actor,
                "analysis.list",
                by.clinic_id,
                "lesion" if lesion_id else ("patient" if patient_id else None),
                lesion_id or patient_id,
                count=min(len(rows), limit),
            )
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(
            [recorded(r) for r in rows],
            encode_cursor(rows[-1].created_at, rows[-1].id) if more else None,
        )

    async def fhir(self, by: Principal, analysis_id: str) -> dict[str, Any]:
        """The analysis as a FHIR R4 DiagnosticReport (JSON), for an electronic health record."""
        by.require(Action.READ_RECORDS)
        async with self.database.transaction() as session:
            row = await clinic_row(session, AnalysisRecord, analysis_id, by, "analysis")
            lesion = await session.get(Lesion, row.lesion_id)
            patient = await session.get(Patient, row.patient_id)
            assert lesion is not None and patient is not None
            record(session, by.actor, "analysis.export_fhir", by.clinic_id, "analysis", row.id)
        return diagnostic_report(
            recorded(row),
            patient_info(patient, self.cipher),
            lesion_info(lesion, self.cipher),
            utc_now(),
        )
