"""REST bodies of the account routes, as OpenAPI documents them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ApiKeyBody",
    "AuditEventBody",
    "CallerBody",
    "NewApiKeyBody",
    "NewUserBody",
    "PasswordChangeBody",
    "TokenBody",
    "UserBody",
]

RoleName = Literal["clinician", "dermatologist", "admin"]


class TokenBody(BaseModel):
    """OAuth 2.0 token response (RFC 6749 section 5.1)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
                    "token_type": "bearer",
                    "expires_in": 900,
                    "refresh_token": "q0Yh9p3...",
                }
            ]
        }
    )

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str = Field(
        description="Works once, at this endpoint with grant_type=refresh_token."
    )


class CallerBody(BaseModel):
    kind: Literal["user", "api_key"]
    id: str
    name: str
    role: RoleName
    clinic_id: str


class UserBody(BaseModel):
    id: str
    username: str
    role: RoleName
    clinic_id: str
    disabled: bool
    created_at: datetime


class NewUserBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"username": "dr.lee", "password": "a long passphrase", "role": "clinician"}
            ]
        },
    )

    username: str = Field(description="3 to 64 letters, digits and . _ @ -; case is ignored.")
    password: str = Field(description="At least 12 characters.")
    role: RoleName


class PasswordChangeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str
    new_password: str = Field(description="At least 12 characters.")


class ApiKeyBody(BaseModel):
    id: str
    name: str
    role: RoleName
    clinic_id: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class NewApiKeyRequestBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "telederm app", "role": "clinician"}]},
    )

    name: str = Field(description="A label, e.g. the app that will use it.")
    role: RoleName


class NewApiKeyBody(BaseModel):
    api_key: ApiKeyBody
    secret: str = Field(
        description="Send as `Authorization: Bearer <secret>`. Shown this once; it cannot be read again."
    )


class AuditEventBody(BaseModel):
    id: int
    at: datetime
    actor: str = Field(description='"user:<id>", "api_key:<id>", "system" or "anonymous".')
    action: str
    target_type: str | None = None
    target_id: str | None = None
    outcome: Literal["ok", "denied"]
