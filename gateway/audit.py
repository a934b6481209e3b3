"""The audit log: who viewed, created, exported or deleted what, and who was refused.

Events are written in the same transaction as the change they record, so a
change without its event (or an event for a change rolled back) cannot
happen. Refusals are written on their own, since their request changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from gateway.accounts.roles import Action, Principal
from gateway.database import Database
from gateway.database.audit_events import record
from gateway.database.schema import AuditEvent

__all__ = ["AuditEntry", "AuditLog", "record"]


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target_type: str | None
    target_id: str | None
    outcome: str
    detail: dict[str, Any]


class AuditLog:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def refused(self, principal: Principal, action: str, **detail: Any) -> None:
        async with self.database.transaction() as session:
            record(
                session, principal.actor, action, principal.clinic_id, outcome="denied", **detail
            )

    async def entries(
        self, principal: Principal, limit: int = 100, before_id: int | None = None
    ) -> list[AuditEntry]:
        """The clinic's events, newest first; page with `before_id` (the last id seen)."""
        principal.require(Action.READ_AUDIT)
        query = (
            select(AuditEvent)
            .where(AuditEvent.clinic_id == principal.clinic_id)
            .order_by(AuditEvent.id.desc())
            .limit(max(1, min(limit, 1000)))
        )
        if before_id is not None:
            query = query.where(AuditEvent.id < before_id)
        async with self.database.transaction() as session:
            rows = (await session.scalars(query)).all()
            record(session, principal.actor, "audit.read", principal.clinic_id, count=len(rows))
        return [
            AuditEntry(
                r.id, r.at, r.actor, r.action, r.target_type, r.target_id, r.outcome, r.detail
            )
            for r in rows
        ]
