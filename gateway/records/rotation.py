"""Re-encrypting every identifying field with the newest field key, so an old key can be dropped."""

from __future__ import annotations

from sqlalchemy import select

from gateway.audit import record
from gateway.database import Database
from gateway.database.schema import Lesion, Patient, Review
from gateway.records.crypto import FieldCipher

__all__ = ["ENCRYPTED_COLUMNS", "rotate_field_keys"]

ENCRYPTED_COLUMNS: dict[type[Patient] | type[Lesion] | type[Review], tuple[str, ...]] = {
    Patient: ("name_encrypted", "identifier_encrypted", "birth_date_encrypted"),
    Lesion: ("description_encrypted",),
    Review: ("request_note_encrypted", "review_note_encrypted"),
}
BATCH = 500


async def rotate_field_keys(database: Database, cipher: FieldCipher) -> int:
    """Rewrites each encrypted value under the first key; returns how many values were rewritten.

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
    async with database.transaction() as session:
        record(session, "system", "keys.rotate", None, values=rewritten)
    return rewritten
