"""REST routes of accounts: sign-in (OAuth 2.0 password and refresh grants), users, API keys, audit."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, Response

from gateway.accounts import AccountService, Principal
from gateway.audit import AuditLog
from gateway.rest.account_schemas import (
    ApiKeyBody,
    AuditEventBody,
    CallerBody,
    NewApiKeyBody,
    NewApiKeyRequestBody,
    NewUserBody,
    PasswordChangeBody,
    TokenBody,
    UserBody,
)
from gateway.rest.auth import TOKEN_URL, Authenticate, client_address
from gateway.rest.schemas import jsonable
from skinscan.accounts import Tokens
from skinscan.errors import InvalidRequestError

__all__ = ["accounts_router"]


def _token_body(tokens: Tokens) -> dict[str, Any]:
    return {
        "access_token": tokens.access_token,
        "token_type": tokens.token_type,
        "expires_in": tokens.expires_in_s,
        "refresh_token": tokens.refresh_token,
    }


def accounts_router(
    accounts: AccountService, audit: AuditLog, authenticated: Authenticate
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["accounts"])

    @router.post(
        TOKEN_URL.removeprefix("/v1"),
        summary="Sign in (grant_type=password) or renew tokens (grant_type=refresh_token)",
        response_model=TokenBody,
    )
    async def token(
        request: Request,
        response: Response,
        grant_type: Annotated[str, Form()],
        username: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
        refresh_token: Annotated[str, Form()] = "",
    ) -> dict[str, Any]:
        # Tokens must not sit in a cache (RFC 6749 section 5.1).
        response.headers["Cache-Control"] = "no-store"
        if grant_type == "password":
            tokens = await accounts.login(username, password, client_address(request))
        elif grant_type == "refresh_token":
            tokens = await accounts.refresh(refresh_token)
        else:
            raise InvalidRequestError("grant_type must be password or refresh_token")
        return _token_body(tokens)

    @router.post("/auth/logout", status_code=204, summary="End the sign-in of a refresh token")
    async def logout(refresh_token: Annotated[str, Form()]) -> Response:
        await accounts.logout(refresh_token)
        return Response(status_code=204)

    @router.get("/me", summary="Who the credentials stand for", response_model=CallerBody)
    async def me(caller: Principal = Depends(authenticated)) -> dict[str, Any]:
        return jsonable(caller.as_caller())

    @router.post(
        "/me/password",
        summary="Change your password; every other sign-in ends",
        response_model=TokenBody,
    )
    async def change_password(
        body: PasswordChangeBody, caller: Principal = Depends(authenticated)
    ) -> dict[str, Any]:
        tokens = await accounts.change_password(caller, body.current_password, body.new_password)
        return _token_body(tokens)

    @router.get(
        "/users", summary="The users of your clinic (admins)", response_model=list[UserBody]
    )
    async def list_users(caller: Principal = Depends(authenticated)) -> list[dict[str, Any]]:
        return [jsonable(u) for u in await accounts.list_users(caller)]

    @router.post(
        "/users",
        status_code=201,
        summary="Add a user to your clinic (admins)",
        response_model=UserBody,
    )
    async def create_user(
        body: NewUserBody, caller: Principal = Depends(authenticated)
    ) -> dict[str, Any]:
        user = await accounts.create_user(caller, body.username, body.password, body.role)
        return jsonable(user)

    @router.post(
        "/users/{user_id}/disable",
        summary="Disable a user; their tokens stop working at once (admins)",
        response_model=UserBody,
    )
    async def disable_user(
        user_id: str, caller: Principal = Depends(authenticated)
    ) -> dict[str, Any]:
        return jsonable(await accounts.disable_user(caller, user_id))

    @router.get(
        "/api-keys", summary="Your clinic's API keys (admins)", response_model=list[ApiKeyBody]
    )
    async def list_api_keys(caller: Principal = Depends(authenticated)) -> list[dict[str, Any]]:
        return [jsonable(k) for k in await accounts.list_api_keys(caller)]

    @router.post(
        "/api-keys",
        status_code=201,
        summary="Create an API key; its secret is in this response only (admins)",
        response_model=NewApiKeyBody,
    )
    async def create_api_key(
        body: NewApiKeyRequestBody, response: Response, caller: Principal = Depends(authenticated)
    ) -> dict[str, Any]:
        response.headers["Cache-Control"] = "no-store"
        key, secret = await accounts.create_api_key(caller, body.name, body.role)
        return {"api_key": jsonable(key), "secret": secret}

    @router.delete(
        "/api-keys/{key_id}", summary="Revoke an API key (admins)", response_model=ApiKeyBody
    )
    async def revoke_api_key(
        key_id: str, caller: Principal = Depends(authenticated)
    ) -> dict[str, Any]:
        return jsonable(await accounts.revoke_api_key(caller, key_id))

    @router.get(
        "/audit-events",
        summary="Your clinic's audit log, newest first (admins)",
        response_model=list[AuditEventBody],
    )
    async def audit_events(
        caller: Principal = Depends(authenticated),
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        before_id: Annotated[
            int | None, Query(description="The last id of the previous page.")
        ] = None,
    ) -> list[dict[str, Any]]:
        return [jsonable(e) for e in await audit.entries(caller, limit, before_id)]

    return router
