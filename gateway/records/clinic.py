"""A clinic's own settings: whether uploaded images are kept, for how long, and its audit share."""

from __future__ import annotations

import math
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
    audit_share: float


def _info(row: Clinic) -> ClinicInfo:
    return ClinicInfo(row.id, row.name, row.keep_images, row.image_retention_days, row.audit_share)


class ClinicSettings:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def get(self, by: Principal) -> ClinicInfo:
        async with self.database.transaction() as session:
            row = await session.get(Clinic, by.clinic_id)
            assert row is not None
        return _info(row)

    async def update(
        self,
        by: Principal,
        keep_images: bool | None = None,
        retention_days: int | None = None,
        audit_share: float | None = None,
    ) -> ClinicInfo:
        """Opting in keeps images of later analyses, encrypted, for `retention_days`; an audit
        share draws that share of later assessable analyses for a dermatologist's review."""
        by.require(Action.MANAGE_CLINIC)
        if retention_days is not None and not 1 <= retention_days <= MAX_RETENTION_DAYS:
            raise InvalidRequestError(
                f"image_retention_days must be between 1 and {MAX_RETENTION_DAYS}"
            )
        if audit_share is not None and not (
            math.isfinite(audit_share) and 0.0 <= audit_share <= 1.0
        ):
            raise InvalidRequestError(
                "audit_share must be between 0 (none) and 1 (every analysis), e.g. 0.1"
            )
        async with self.database.transaction() as session:
            row = await session.get(Clinic, by.clinic_id)
            assert row is not None
            if keep_images is not None:
                row.keep_images = keep_images
            if retention_days is not None:
                row.image_retention_days = retention_days
            if audit_share is not None:
                row.audit_share = audit_share
            record(
                session,
                by.actor,
                "clinic.update",
                by.clinic_id,
                "clinic",
                row.id,
                keep_images=row.keep_images,
                image_retention_days=row.image_retention_days,
                audit_share=row.audit_share,
            )
        return _info(row)
