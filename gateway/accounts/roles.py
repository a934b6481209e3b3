"""Who may do what: roles, the actions they allow, and the principal a request acts as.

The one table of permissions. A route or method names the action it performs;
`Principal.require` answers, so no handler writes its own role check.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from skinscan.accounts import Caller, Role
from skinscan.errors import NotFoundError, PermissionDeniedError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["PERMISSIONS", "Action", "Principal", "Role", "clinic_row"]

Row = TypeVar("Row")


class Action(StrEnum):
    ANALYZE = "analyze"
    READ_RECORDS = "read_records"
    WRITE_RECORDS = "write_records"
    REVIEW = "review"
    MANAGE_USERS = "manage_users"
    MANAGE_API_KEYS = "manage_api_keys"
    READ_AUDIT = "read_audit"
    ERASE_RECORDS = "erase_records"
    MANAGE_CLINIC = "manage_clinic"


PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.CLINICIAN: frozenset({Action.ANALYZE, Action.READ_RECORDS, Action.WRITE_RECORDS}),
    Role.DERMATOLOGIST: frozenset({Action.ANALYZE, Action.READ_RECORDS, Action.REVIEW}),
    Role.ADMIN: frozenset(Action),
}


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a signed-in user or an API key, always of one clinic."""

    kind: str  # "user" or "api_key"
    id: str
    clinic_id: str
    role: Role
    name: str  # the user name, or the key's label

    @property
    def actor(self) -> str:
        """How the audit log names this caller (identifiers only)."""
        return f"{self.kind}:{self.id}"

    def as_caller(self) -> Caller:
        return Caller(self.kind, self.id, self.name, self.role, self.clinic_id)

    def may(self, action: Action) -> bool:
        return action in PERMISSIONS[self.role]

    def require(self, action: Action) -> None:
        if not self.may(action):
            raise PermissionDeniedError()

    def require_clinic(self, clinic_id: str) -> None:
        """A record of another clinic is refused exactly as a forbidden action is."""
        if clinic_id != self.clinic_id:
            raise PermissionDeniedError()


async def clinic_row(
    session: AsyncSession, model: type[Row], row_id: str, by: Principal, noun: str
) -> Row:
    """The row `row_id` of `model` (a table with `clinic_id`), if it is of `by`'s clinic.

    No such row is NotFoundError; another clinic's is PermissionDeniedError.
    """
    row: Any = await session.get(model, row_id)
    if row is None:
        raise NotFoundError(f"no {noun} {row_id}")
    by.require_clinic(row.clinic_id)
    return row
