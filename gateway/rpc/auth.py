"""The one check of credentials on every public gRPC method.

A server interceptor reads `authorization: Bearer <token or API key>` from the
call's metadata, asks the account service who it stands for, and hands the
principal to the servicer through a context variable (each call runs in its
own task, so callers never see each other's). Health, reflection and the
methods that sign in are open; every other method, present and future, is
closed unless listed here, so a new method cannot be forgotten.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from gateway.accounts import AccountService, Principal
from gateway.audit import AuditLog
from skinscan.errors import PermissionDeniedError, SkinscanError
from skinscan.grpc_status import status_for

__all__ = ["OPEN_METHODS", "AuthInterceptor", "caller", "peer_address"]

OPEN_METHODS = frozenset(
    {
        "/skinscan.v1.AccountService/Login",
        "/skinscan.v1.AccountService/Refresh",
        # Ends a sign-in with its refresh token, which is the credential.
        "/skinscan.v1.AccountService/Logout",
    }
)
OPEN_SERVICES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("principal")


def caller() -> Principal:
    """The authenticated caller of the current RPC."""
    return _principal.get()


def peer_address(context: grpc.aio.ServicerContext) -> str:
    """The client's IP address, without port ("ipv4:10.0.0.1:5555" -> "10.0.0.1")."""
    peer = context.peer() or ""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]").replace("%5B", "").replace("%5D", "")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    return peer


def _bearer(metadata: tuple[tuple[str, str | bytes], ...] | None) -> str | None:
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str):
            scheme, _, credential = value.partition(" ")
            if scheme.lower() == "bearer":
                return credential.strip()
    return None


class AuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, accounts: AccountService, audit: AuditLog) -> None:
        self._accounts = accounts
        self._audit = audit

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method = details.method
        if handler is None or method in OPEN_METHODS or method.startswith(OPEN_SERVICES):
            return handler
        credential = _bearer(details.invocation_metadata)  # type: ignore[arg-type]
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap(handler.unary_unary, credential, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._wrap(handler.stream_unary, credential, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream, credential),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return grpc.stream_stream_rpc_method_handler(
            self._wrap_stream(handler.stream_stream, credential),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _wrap(
        self, behaviour: Callable[..., Any], credential: str | None, method: str
    ) -> Callable[..., Any]:
        async def checked(request: Any, context: grpc.aio.ServicerContext) -> Any:
            # Raises UnauthenticatedError or RateLimitedError, which the
            # service interceptor outside this one maps to a status.
            principal = await self._accounts.authenticate(credential)
            _principal.set(principal)
            try:
                return await behaviour(request, context)
            except PermissionDeniedError:
                await self._audit.refused(principal, "access", method=method)
                raise

        return checked

    def _wrap_stream(
        self, behaviour: Callable[..., Any], credential: str | None
    ) -> Callable[..., Any]:
        async def checked(request: Any, context: grpc.aio.ServicerContext) -> Any:
            # The service interceptor leaves streams of answers to one request
            # (unary-stream) alone, so the credential check maps its own errors here.
            try:
                _principal.set(await self._accounts.authenticate(credential))
            except SkinscanError as error:
                await context.abort(status_for(error), str(error))
            async for response in behaviour(request, context):
                yield response

        return checked
