"""Accounts <-> skinscan.v1 AccountService messages (no gRPC here)."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from skinscan.accounts import ApiKey, Caller, Role, Tokens, User
from skinscan.errors import InvalidRequestError
from skinscan.v1 import account_service_pb2 as pb

__all__ = [
    "api_key_from_proto",
    "api_key_to_proto",
    "caller_from_proto",
    "caller_to_proto",
    "role_from_proto",
    "role_to_proto",
    "tokens_from_proto",
    "tokens_to_proto",
    "user_from_proto",
    "user_to_proto",
]

_ROLE_TO_PROTO = {
    Role.CLINICIAN: pb.ROLE_CLINICIAN,
    Role.DERMATOLOGIST: pb.ROLE_DERMATOLOGIST,
    Role.ADMIN: pb.ROLE_ADMIN,
}
_ROLE_FROM_PROTO = {v: k for k, v in _ROLE_TO_PROTO.items()}


def role_to_proto(role: Role | str) -> pb.Role:
    return _ROLE_TO_PROTO[Role(role)]


def role_from_proto(role: pb.Role | int) -> Role:
    found = _ROLE_FROM_PROTO.get(role)  # type: ignore[arg-type]
    if found is None:
        raise InvalidRequestError("set role to ROLE_CLINICIAN, ROLE_DERMATOLOGIST or ROLE_ADMIN")
    return found


def _stamp(moment: datetime | None) -> Timestamp | None:
    if moment is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _moment(message: object, field: str) -> datetime | None:
    if not message.HasField(field):  # type: ignore[attr-defined]
        return None
    stamp: Timestamp = getattr(message, field)
    return stamp.ToDatetime(tzinfo=UTC)


def tokens_to_proto(tokens: Tokens) -> pb.Tokens:
    return pb.Tokens(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in_s=tokens.expires_in_s,
        token_type=tokens.token_type,
    )


def tokens_from_proto(message: pb.Tokens) -> Tokens:
    return Tokens(
        message.access_token, message.refresh_token, message.expires_in_s, message.token_type
    )


def user_to_proto(user: User) -> pb.User:
    return pb.User(
        id=user.id,
        username=user.username,
        role=role_to_proto(user.role),
        clinic_id=user.clinic_id,
        disabled=user.disabled,
        created_at=_stamp(user.created_at),
    )


def user_from_proto(message: pb.User) -> User:
    created = _moment(message, "created_at")
    assert created is not None
    return User(
        message.id,
        message.username,
        role_from_proto(message.role),
        message.clinic_id,
        message.disabled,
        created,
    )


def api_key_to_proto(key: ApiKey) -> pb.ApiKey:
    return pb.ApiKey(
        id=key.id,
        name=key.name,
        role=role_to_proto(key.role),
        clinic_id=key.clinic_id,
        created_at=_stamp(key.created_at),
        last_used_at=_stamp(key.last_used_at),
        revoked_at=_stamp(key.revoked_at),
    )


def api_key_from_proto(message: pb.ApiKey) -> ApiKey:
    created = _moment(message, "created_at")
    assert created is not None
    return ApiKey(
        message.id,
        message.name,
        role_from_proto(message.role),
        message.clinic_id,
        created,
        _moment(message, "last_used_at"),
        _moment(message, "revoked_at"),
    )


def caller_to_proto(caller: Caller) -> pb.WhoAmIResponse:
    return pb.WhoAmIResponse(
        kind=caller.kind,
        id=caller.id,
        name=caller.name,
        role=role_to_proto(caller.role),
        clinic_id=caller.clinic_id,
    )


def caller_from_proto(message: pb.WhoAmIResponse) -> Caller:
    return Caller(
        message.kind, message.id, message.name, role_from_proto(message.role), message.clinic_id
    )
