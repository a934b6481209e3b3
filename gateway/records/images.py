"""Uploaded images kept for a clinic that opts in: encrypted on disk, deleted when due.

By default no image outlives its analysis: only its SHA-256 is recorded.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update

from gateway.database import Database
from gateway.database.schema import AnalysisRecord, utc_now
from gateway.records.crypto import FieldCipher

__all__ = ["ImageStore"]

log = logging.getLogger(__name__)


class ImageStore:
    def __init__(self, folder: Path, cipher: FieldCipher) -> None:
        self.folder = folder.expanduser()
        self.cipher = cipher

    def keep(self, analysis_id: str, data: bytes) -> str:
        """Writes the image encrypted; returns its path relative to the store."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = f"{analysis_id}.img"
        partial = self.folder / f"{name}.partial"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(self.cipher.encrypt_bytes(data))
        os.replace(partial, self.folder / name)
        return name

    def read(self, name: str) -> bytes:
        return self.cipher.decrypt_bytes((self.folder / name).read_bytes())

    def remove(self, name: str) -> None:
        (self.folder / name).unlink(missing_ok=True)

    async def purge_expired(self, database: Database, now: datetime | None = None) -> int:
        """Deletes every kept image past its retention; returns how many. Safe to run often."""
        moment = now or utc_now()
        async with database.transaction() as session:
            due = (
                await session.execute(
                    select(AnalysisRecord.id, AnalysisRecord.image_path).where(
                        AnalysisRecord.image_expires_at <= moment,
                        AnalysisRecord.image_path.is_not(None),
                    )
                )
            ).all()
            if due:
                await session.execute(
                    update(AnalysisRecord)
                    .where(AnalysisRecord.id.in_([row.id for row in due]))
                    .values(image_path=None, image_expires_at=None)
                )
        # Files go after the rows commit: a crash between leaves a file the
        # next purge cannot see, never a row pointing at a missing file.
        for row in due:
            self.remove(row.image_path)
        if due:
            log.info("deleted %d images past their retention period", len(due))
        return len(due)
