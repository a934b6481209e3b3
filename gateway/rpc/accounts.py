"""skinscan.v1.AccountService servicer: protobuf in and out over the account service."""

from __future__ import annotations

import grpc

from gateway.accounts import AccountService
from gateway.audit import AuditLog
from gateway.rpc.auth import caller, peer_address
from skinscan.account_convert import (
    api_key_to_proto,
    caller_to_proto,
    role_from_proto,
    tokens_to_proto,
    user_to_proto,
)
from skinscan.v1 import account_service_pb2 as pb
from skinscan.v1 import account_service_pb2_grpc as pb_grpc

__all__ = ["AccountServicer"]


class AccountServicer(pb_grpc.AccountServiceServicer):
    def __init__(self, accounts: AccountService, audit: AuditLog) -> None:
        self.accounts = accounts
        self.audit = audit

    async def Login(
        self, request: pb.LoginRequest, context: grpc.aio.ServicerContext
    ) -> pb.LoginResponse:
        tokens = await self.accounts.login(
            request.username, request.password, peer_address(context)
        )
        return pb.LoginResponse(tokens=tokens_to_proto(tokens))

    async def Refresh(
        self, request: pb.RefreshRequest, context: grpc.aio.ServicerContext
    ) -> pb.RefreshResponse:
        tokens = await self.accounts.refresh(request.refresh_token)
        return pb.RefreshResponse(tokens=tokens_to_proto(tokens))

    async def Logout(
        self, request: pb.LogoutRequest, context: grpc.aio.ServicerContext
    ) -> pb.LogoutResponse:
        await self.accounts.logout(request.refresh_token)
        return pb.LogoutResponse()

    async def WhoAmI(
        self, request: pb.WhoAmIRequest, context: grpc.aio.ServicerContext
    ) -> pb.WhoAmIResponse:
        return caller_to_proto(caller().as_caller())

    async def ChangePassword(
        self, request: pb.ChangePasswordRequest, context: grpc.aio.ServicerContext
    ) -> pb.ChangePasswordResponse:
        tokens = await self.accounts.change_password(
            caller(), request.current_password, request.new_password
        )
        return pb.ChangePasswordResponse(tokens=tokens_to_proto(tokens))

    async def CreateUser(
        self, request: pb.CreateUserRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateUserResponse:
        user = await self.accounts.create_user(
            caller(), request.username, request.password, role_from_proto(request.role)
        )
        return pb.CreateUserResponse(user=user_to_proto(user))

    async def ListUsers(
        self, request: pb.ListUsersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListUsersResponse:
        users = await self.accounts.list_users(caller())
        return pb.ListUsersResponse(users=[user_to_proto(u) for u in users])

    async def DisableUser(
        self, request: pb.DisableUserRequest, context: grpc.aio.ServicerContext
    ) -> pb.DisableUserResponse:
        user = await self.accounts.disable_user(caller(), request.user_id)
        return pb.DisableUserResponse(user=user_to_proto(user))

    async def CreateApiKey(
        self, request: pb.CreateApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateApiKeyResponse:
        key, secret = await self.accounts.create_api_key(
            caller(), request.name, role_from_proto(request.role)
        )
        return pb.CreateApiKeyResponse(api_key=api_key_to_proto(key), secret=secret)

    async def ListApiKeys(
        self, request: pb.ListApiKeysRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListApiKeysResponse:
        keys = await self.accounts.list_api_keys(caller())
        return pb.ListApiKeysResponse(api_keys=[api_key_to_proto(k) for k in keys])

    async def RevokeApiKey(
        self, request: pb.RevokeApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.RevokeApiKeyResponse:
        key = await self.accounts.revoke_api_key(caller(), request.api_key_id)
        return pb.RevokeApiKeyResponse(api_key=api_key_to_proto(key))

    async def ListAuditEvents(
        self, request: pb.ListAuditEventsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAuditEventsResponse:
        entries = await self.audit.entries(
            caller(), request.limit or 100, request.before_id or None
        )
        events = []
        for e in entries:
            event = pb.AuditEvent(
                id=e.id,
                actor=e.actor,
                action=e.action,
                target_type=e.target_type or "",
                target_id=e.target_id or "",
                outcome=e.outcome,
            )
            event.at.FromDatetime(e.at)
            events.append(event)
        return pb.ListAuditEventsResponse(events=events)
