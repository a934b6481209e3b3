"""Uploaded images kept for a clinic that opts in: encrypted, deleted when due.

By default no image outlives its analysis: only its SHA-256 is recorded.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update

from gateway.database import Database
from gateway.database.schema import AnalysisRecord, utc_now
from gateway.records.crypto import FieldCipher
from gateway.records.image_blobs import open_blobs

__all__ = ["ImageStore"]

log = logging.getLogger(__name__)


class ImageStore:
    """Kept images, encrypted with the clinic's field keys before they leave the gateway."""

    def __init__(self, location: str | Path, cipher: FieldCipher) -> None:
        self.blobs = open_blobs(location)
        self.cipher = cipher

    async def keep(self, analysis_id: str, data: bytes) -> str:
        """Stores the image encrypted; returns the name it is kept under."""
        name = f"{analysis_id}.img"
        await asyncio.to_thread(self.blobs.put, name, self.cipher.encrypt_bytes(data))
        return name

    async def read(self, name: str) -> bytes:
        """The image, decrypted; FileNotFoundError when it is gone."""
        return self.cipher.decrypt_bytes(await asyncio.to_thread(self.blobs.get, name))

    async def rotate(self, name: str) -> bool:
        """Re-encrypts a kept image with the newest key; False when it is gone (purged)."""
        try:
            token = await asyncio.to_thread(self.blobs.get, name)
        except FileNotFoundError:
            return False
        await asyncio.to_thread(self.blobs.put, name, self.cipher.rotate_bytes(token))
        return True

    async def remove(self, name: str) -> None:
        await asyncio.to_thread(self.blobs.delete, name)

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
            await self.remove(row.image_path)
        if due:
            log.info("deleted %d images past their retention period", len(due))
        return len(due)
