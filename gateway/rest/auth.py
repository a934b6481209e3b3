"""The one credential check of the REST routes: `Authorization: Bearer <token or API key>`.

Routes take the caller with `Depends(authenticated)`; OpenAPI documents the
scheme (OAuth2 password flow at /v1/auth/token), so the interactive docs can
sign in. Health and metrics stay open; every other route declares it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from gateway.accounts import AccountService, Principal
from gateway.web.session import SignInRequired, WebSessions
from skinscan.errors import UnauthenticatedError

__all__ = ["TOKEN_URL", "Authenticate", "client_address", "require_caller"]

TOKEN_URL = "/v1/auth/token"

# auto_error=False: a missing header reaches our own check, so it is answered
# with our error shape and status, like every other failure.
_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)

Authenticate = Callable[..., Awaitable[Principal]]


def require_caller(accounts: AccountService, sessions: WebSessions | None = None) -> Authenticate:
    """A FastAPI dependency that answers the authenticated caller, or raises 401/429.

    With `sessions`, a signed-in browser's session cookie is accepted too when
    no bearer credential is sent: only for downloads the web app links to
    (GETs, which change nothing; SameSite=Strict keeps other sites' links out).
    """

    async def authenticated(
        request: Request, credential: str | None = Depends(_bearer)
    ) -> Principal:
        if credential is None and sessions is not None and request.method == "GET":
            try:
                principal = await sessions.principal(request, renew=False)
            except SignInRequired:
                raise UnauthenticatedError() from None
            request.state.principal = principal
            return principal
        principal = await accounts.authenticate(credential)
        # For the error handler: a refusal is audited against who was refused.
        request.state.principal = principal
        return principal

    return authenticated


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""
