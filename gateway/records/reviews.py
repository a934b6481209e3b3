"""Reviews: a clinician sends a case to a dermatologist, who records the confirmed diagnosis."""

from __future__ import annotations

from sqlalchemy import or_, select

from gateway.accounts.roles import Action, Principal, clinic_row
from gateway.audit import record
from gateway.database import Database
from gateway.database.schema import AnalysisRecord, Review, User, new_id, utc_now
from gateway.records.crypto import FieldCipher
from skinscan.errors import InvalidRequestError, PermissionDeniedError
from skinscan.records import Review as ReviewInfo
from skinscan.records import ReviewMethod, ReviewStatus
from skinscan_model.diagnoses import DIAGNOSIS_CODES

__all__ = ["ReviewRecords"]

MAX_NOTE = 2000


def _note(value: str | None) -> str | None:
    if value and len(value) > MAX_NOTE:
        raise InvalidRequestError(f"the note is longer than {MAX_NOTE} characters")
    return value or None


class ReviewRecords:
    def __init__(self, database: Database, cipher: FieldCipher) -> None:
        self.database = database
        self.cipher = cipher

    def _info(self, row: Review) -> ReviewInfo:
        c = self.cipher
        return ReviewInfo(
            id=row.id,
            analysis_id=row.analysis_id,
            patient_id=row.patient_id,
            status=ReviewStatus(row.status),
            requested_by=row.requested_by,
            requested_at=row.requested_at,
            note=c.decrypt(row.request_note_encrypted) if row.request_note_encrypted else None,
            assigned_to=row.assigned_to,
            diagnosis=row.diagnosis,
            method=ReviewMethod(row.method) if row.method else None,
            review_note=c.decrypt(row.review_note_encrypted) if row.review_note_encrypted else None,
            reviewed_by=row.reviewed_by,
            reviewed_at=row.reviewed_at,
            audit=row.audit,
        )

    async def request(
        self, by: Principal, analysis_id: str, note: str | None = None, assign_to: str | None = None
    ) -> ReviewInfo:
        by.require(Action.WRITE_RECORDS)
        async with self.database.transaction() as session:
            analysis = await clinic_row(session, AnalysisRecord, analysis_id, by, "analysis")
            if assign_to:
                dermatologist = await session.get(User, assign_to)
                if (
                    dermatologist is None
                    or dermatologist.clinic_id != by.clinic_id
                    or dermatologist.role != "dermatologist"
                    or dermatologist.disabled
                ):
                    raise InvalidRequestError("assign the review to a dermatologist of your clinic")
            row = Review(
                id=new_id(),
                clinic_id=by.clinic_id,
                analysis_id=analysis.id,
                patient_id=analysis.patient_id,
                requested_by=by.actor,
                assigned_to=assign_to or None,
                request_note_encrypted=self.cipher.encrypt(n) if (n := _note(note)) else None,
            )
            session.add(row)
            await session.flush()
            record(session, by.actor, "review.request", by.clinic_id, "review", row.id)
        return self._info(row)

    async def queue(
        self, by: Principal, status: str = "open", analysis_id: str | None = None
    ) -> list[ReviewInfo]:
        """Reviews of the clinic: a dermatologist sees those for them or for anyone."""
        by.require(Action.READ_RECORDS)
        query = select(Review).where(Review.clinic_id == by.clinic_id)
        if status:
            if status not in {s.value for s in ReviewStatus}:
                raise InvalidRequestError("status must be open or done")
            query = query.where(Review.status == status)
        if analysis_id:
            query = query.where(Review.analysis_id == analysis_id)
        if by.role.value == "dermatologist":
            query = query.where(or_(Review.assigned_to.is_(None), Review.assigned_to == by.id))
        async with self.database.transaction() as session:
            rows = (await session.scalars(query.order_by(Review.requested_at))).all()
            record(session, by.actor, "review.list", by.clinic_id, count=len(rows))
        return [self._info(r) for r in rows]

    async def decide(
        self, by: Principal, review_id: str, diagnosis: str, method: str, note: str | None = None
    ) -> ReviewInfo:
        """Records the confirmed diagnosis; the requesting clinician sees it on the review."""
        by.require(Action.REVIEW)
        if by.kind != "user":
            raise PermissionDeniedError("a review is signed by a dermatologist, not an API key")
        if diagnosis not in DIAGNOSIS_CODES:
            raise InvalidRequestError(f"diagnosis must be one of: {', '.join(DIAGNOSIS_CODES)}")
        try:
            how = ReviewMethod(method)
        except ValueError:
            raise InvalidRequestError(
                f"method must be one of: {', '.join(m.value for m in ReviewMethod)}"
            ) from None
        async with self.database.transaction() as session:
            row = await clinic_row(session, Review, review_id, by, "review")
            if row.assigned_to and row.assigned_to != by.id:
                raise PermissionDeniedError("this review is assigned to another dermatologist")
            if row.status == ReviewStatus.DONE.value:
                raise InvalidRequestError("this review has been recorded already")
            row.status = ReviewStatus.DONE.value
            row.diagnosis = diagnosis
            row.method = how.value
            row.review_note_encrypted = self.cipher.encrypt(n) if (n := _note(note)) else None
            row.reviewed_by = by.id
            row.reviewed_at = utc_now()
            record(
                session, by.actor, "review.decide", by.clinic_id, "review", row.id, method=how.value
            )
        return self._info(row)
