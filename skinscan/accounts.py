"""Accounts as the SDK sees them: roles, tokens, users and API keys of a clinic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = ["ApiKey", "Caller", "Role", "Tokens", "User"]


class Role(StrEnum):
    CLINICIAN = "clinician"  # analyses and patients of their own clinic
    DERMATOLOGIST = "dermatologist"  # reviews cases sent to them, records confirmed diagnoses
    ADMIN = "admin"  # users, API keys, every record of the clinic, the audit log


@dataclass(frozen=True)
class Tokens:
    """One sign-in: a short-lived access token and the refresh token that renews it."""

    access_token: str
    refresh_token: str
    expires_in_s: int
    token_type: str = "bearer"


@dataclass(frozen=True)
class User:
    id: str
    username: str
    role: Role
    clinic_id: str
    disabled: bool
    created_at: datetime


@dataclass(frozen=True)
class ApiKey:
    """An API key's record. Its secret is never part of it."""

    id: str
    name: str
    role: Role
    clinic_id: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class Caller:
    """Who a set of credentials stands for."""

    kind: str  # "user" or "api_key"
    id: str
    name: str
    role: Role
    clinic_id: str
