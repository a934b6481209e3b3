"""The web app's sessions: the account tokens in cookies, and CSRF tokens for every form.

A signed-in browser holds the access and refresh tokens of an ordinary sign-in
(gateway.accounts) in Secure, HttpOnly, SameSite=Strict cookies: scripts cannot
read them, other sites cannot send them. An expired access token is renewed
from the refresh token on the next page; sign-out revokes the refresh token.

CSRF: the signed double-submit cookie pattern (OWASP). A random value lives in
its own HttpOnly cookie; every form carries its HMAC under a key derived from
the token signing key, and a POST is refused unless the two match. A request a
browser marks as cross-site (Sec-Fetch-Site) is refused before that. Cookies
never authenticate the JSON API (it takes bearer credentials only), so the API
needs no CSRF defence.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets

from fastapi import Request, Response
from starlette.datastructures import FormData

from gateway.accounts import AccountService, Principal
from skinscan.accounts import Tokens
from skinscan.errors import PermissionDeniedError, UnauthenticatedError

__all__ = ["ACCESS_COOKIE", "CSRF_FIELD", "SignInRequired", "WebSessions"]

ACCESS_COOKIE = "skinscan_access"
REFRESH_COOKIE = "skinscan_refresh"
CSRF_COOKIE = "skinscan_csrf"
CSRF_FIELD = "csrf_token"
# Small forms: a few fields of text. The upload form sets its own limit.
FORM_PART_LIMIT = 64 * 1024


class SignInRequired(Exception):
    """No valid session: the browser is sent to the sign-in page."""


def _cookie(response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="strict"
    )


class WebSessions:
    def __init__(self, accounts: AccountService, refresh_ttl_s: int) -> None:
        self.accounts = accounts
        self.refresh_ttl_s = refresh_ttl_s
        self._csrf_key = accounts.tokens.derived_key("skinscan web csrf v1")

    # -- who is signed in ------------------------------------------------------

    async def principal(self, request: Request, renew: bool = True) -> Principal:
        """The signed-in user, renewing an expired access token; else SignInRequired.

        Only page loads renew (`renew`): the pictures a page loads come in
        parallel, and two renewals with one refresh token would look like a
        stolen token and end the session.
        """
        cached: Principal | None = getattr(request.state, "principal", None)
        if cached is not None:
            return cached
        access = request.cookies.get(ACCESS_COOKIE)
        refresh = request.cookies.get(REFRESH_COOKIE)
        principal: Principal | None = None
        if access:
            try:
                principal = await self.accounts.authenticate(access)
            except UnauthenticatedError:
                principal = None
        if principal is None and refresh and renew:
            try:
                tokens = await self.accounts.refresh(refresh)
                principal = await self.accounts.authenticate(tokens.access_token)
            except UnauthenticatedError:
                raise SignInRequired from None
            request.state.renewed_tokens = tokens
        # A cookie holding an API key instead of a sign-in is no session.
        if principal is None or principal.kind != "user":
            raise SignInRequired
        request.state.principal = principal
        return principal

    def start(self, response: Response, tokens: Tokens) -> None:
        _cookie(response, ACCESS_COOKIE, tokens.access_token, self.refresh_ttl_s)
        _cookie(response, REFRESH_COOKIE, tokens.refresh_token, self.refresh_ttl_s)
        # A fresh CSRF secret per session: one planted before sign-in is useless after.
        _cookie(response, CSRF_COOKIE, secrets.token_urlsafe(32), self.refresh_ttl_s)

    async def end(self, request: Request, response: Response) -> None:
        refresh = request.cookies.get(REFRESH_COOKIE)
        if refresh:
            # Already revoked or expired: signed out all the same.
            with contextlib.suppress(UnauthenticatedError):
                await self.accounts.logout(refresh)
        self.forget(response)

    def forget(self, response: Response) -> None:
        for name in (ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE):
            response.delete_cookie(name, path="/", secure=True, httponly=True, samesite="strict")

    def finish(self, request: Request, response: Response) -> None:
        """Sets what this request renewed or created on its response."""
        tokens: Tokens | None = getattr(request.state, "renewed_tokens", None)
        if tokens is not None:
            _cookie(response, ACCESS_COOKIE, tokens.access_token, self.refresh_ttl_s)
            _cookie(response, REFRESH_COOKIE, tokens.refresh_token, self.refresh_ttl_s)
        fresh: str | None = getattr(request.state, "new_csrf_secret", None)
        already = any(
            cookie.startswith(f"{CSRF_COOKIE}=")
            for cookie in response.headers.getlist("set-cookie")
        )
        if fresh is not None and not already:
            _cookie(response, CSRF_COOKIE, fresh, self.refresh_ttl_s)

    # -- CSRF ------------------------------------------------------------------

    def _secret(self, request: Request) -> str:
        secret = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_secret", None)
        if not secret:
            secret = secrets.token_urlsafe(32)
            request.state.new_csrf_secret = secret
        return secret

    def csrf_token(self, request: Request) -> str:
        """The value every form of this page carries in its `csrf_token` field."""
        return hmac.new(self._csrf_key, self._secret(request).encode(), hashlib.sha256).hexdigest()

    async def form(self, request: Request, max_part_size: int = FORM_PART_LIMIT) -> FormData:
        """The POSTed form, once its CSRF token is checked; PermissionDeniedError if not."""
        if request.headers.get("sec-fetch-site") == "cross-site":
            raise PermissionDeniedError("a form of another site cannot act here")
        form = await request.form(max_files=2, max_fields=50, max_part_size=max_part_size)
        secret = request.cookies.get(CSRF_COOKIE)
        sent = form.get(CSRF_FIELD)
        if not secret or not isinstance(sent, str):
            raise PermissionDeniedError(
                "the form has expired or was not sent from this app: reload the page and try again"
            )
        expected = hmac.new(self._csrf_key, secret.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, sent):
            raise PermissionDeniedError(
                "the form has expired or was not sent from this app: reload the page and try again"
            )
        return form
