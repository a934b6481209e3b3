"""A clinic's own settings: whether uploaded images are kept, and for how long."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.accounts.roles import Action, Principal
from gateway.audit import record
from gateway.database import Database
from gateway.database.schema import Clinic
from skinscan.errors import InvalidRequestError

__all__ = ["ClinicInfo", "ClinicSettings"]

MAX_RETENTION_DAYS = 3650


@dataclass(frozen=True)
class ClinicInfo:
    id: str
    name: str
    keep_images: bool
    image_retention_days: int


def _info(row: Clinic) -> ClinicInfo:
    return ClinicInfo(row.id, row.name, row.keep_images, row.image_retention_days)


class ClinicSettings:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def get(self, by: Principal) -> ClinicInfo:
        async with self.database.transaction() as session:
            row = await session.get(Clinic, by.clinic_id)
            assert row is not None
        return _info(row)

    async def update(
        self, by: Principal, keep_images: bool | None = None, retention_days: int | None = None
    ) -> ClinicInfo:
        """Opting in keeps images of later analyses, encrypted, for `retention_days`."""
        by.require(Action.MANAGE_CLINIC)
        if retention_days is not None and not 1 <= retention_days <= MAX_RETENTION_DAYS:
            raise InvalidRequestError(
                f"image_retention_days must be between 1 and {MAX_RETENTION_DAYS}"
            )
        async with self.database.transaction() as session:
            row = await session.get(Clinic, by.clinic_id)
            assert row is not None
            if keep_images is not None:
                row.keep_images = keep_images
            if retention_days is not None:
                row.image_retention_days = retention_days
            record(
                session,
                by.actor,
                "clinic.update",
                by.clinic_id,
                "clinic",
                row.id,
                keep_images=row.keep_images,
                image_retention_days=row.image_retention_days,
            )
        return _info(row)
