"""Writing an audit event into the transaction of the change it records (gateway.audit reads
them). Apart from gateway.audit, which needs the accounts' roles, so that the accounts can
record their own events without importing each other."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.database.schema import AuditEvent

__all__ = ["record"]


def record(
    session: AsyncSession,
    actor: str,
    action: str,
    clinic_id: str | None,
    target_type: str | None = None,
    target_id: str | None = None,
    outcome: str = "ok",
    **detail: Any,
) -> None:
    """Adds an event to `session`'s transaction. `detail` must hold no name or image."""
    session.add(
        AuditEvent(
            actor=actor,
            action=action,
            clinic_id=clinic_id,
            target_type=target_type,
            target_id=target_id,
            outcome=outcome,
            detail=detail,
        )
    )
