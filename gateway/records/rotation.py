"""Re-encrypting every identifying field and kept image with the newest field key, so an old
key can be dropped."""

from __future__ import annotations

from sqlalchemy import select

from gateway.audit import record
from gateway.database import Database
from gateway.database.schema import AnalysisRecord, Lesion, Patient, Review
from gateway.records.crypto import FieldCipher
from gateway.records.images import ImageStore

__all__ = ["ENCRYPTED_COLUMNS", "rotate_field_keys"]

ENCRYPTED_COLUMNS: dict[type[Patient] | type[Lesion] | type[Review], tuple[str, ...]] = {
    Patient: ("name_encrypted", "identifier_encrypted", "birth_date_encrypted"),
    Lesion: ("description_encrypted",),
    Review: ("request_note_encrypted", "review_note_encrypted"),
}
BATCH = 500


async def rotate_field_keys(
    database: Database, cipher: FieldCipher, images: ImageStore | None = None
) -> tuple[int, int]:
    """Rewrites each encrypted value, and each kept image, under the first key; returns how
    many values and images were rewritten.

    In batches, each its own transaction, so a large clinic does not hold one
    long lock; safe to run again after an interruption (a value already under
    the newest key is rewritten to the same plaintext).
    """
    rewritten = 0
    for table, columns in ENCRYPTED_COLUMNS.items():
        last = ""
        while True:
            async with database.transaction() as session:
                rows = (
                    await session.scalars(
                        select(table).where(table.id > last).order_by(table.id).limit(BATCH)
                    )
                ).all()
                for row in rows:
                    for column in columns:
                        value = getattr(row, column)
                        if value:
                            setattr(row, column, cipher.rotate(value))
                            rewritten += 1
                if rows:
                    last = str(rows[-1].id)  # type: ignore[attr-defined]
            if len(rows) < BATCH:
                break
    kept = await _rotate_images(database, images) if images is not None else 0
    async with database.transaction() as session:
        record(session, "system", "keys.rotate", None, values=rewritten, images=kept)
    return rewritten, kept


async def _rotate_images(database: Database, images: ImageStore) -> int:
    """Without an old key a kept image could never be read again: each is rewritten too."""
    rotated, last = 0, ""
    while True:
        async with database.transaction() as session:
            rows = (
                await session.execute(
                    select(AnalysisRecord.id, AnalysisRecord.image_path)
                    .where(AnalysisRecord.id > last, AnalysisRecord.image_path.is_not(None))
                    .order_by(AnalysisRecord.id)
                    .limit(BATCH)
                )
            ).all()
        for row in rows:
            rotated += await images.rotate(row.image_path)
        if len(rows) < BATCH:
            return rotated
        last = rows[-1].id
