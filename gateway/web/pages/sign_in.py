"""Sign in, sign out, change password, and the home page that sends each role on its way."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from gateway.accounts.roles import Action
from gateway.web.context import WebContext, see_other
from gateway.web.forms import text
from gateway.web.session import SignInRequired
from skinscan.errors import RateLimitedError, UnauthenticatedError

__all__ = ["sign_in_pages"]


def sign_in_pages(web: WebContext) -> APIRouter:
    router = web.router()
    page = web.renderer.page

    @router.get("/")
    async def home(request: Request) -> Response:
        try:
            user = await web.user(request)
        except SignInRequired:
            return see_other("/signin")
        if user.may(Action.REVIEW) and not user.may(Action.WRITE_RECORDS):
            return see_other("/reviews")
        return see_other("/patients")

    @router.get("/signin")
    async def sign_in_form(request: Request) -> Response:
        return page(request, "signin.html", error=None, username="")

    @router.post("/signin")
    async def sign_in(request: Request) -> Response:
        form = await web.sessions.form(request)
        username, password = text(form, "username"), form.get("password")
        try:
            tokens = await web.accounts.login(
                username,
                password if isinstance(password, str) else "",
                request.client.host if request.client else "",
            )
        except UnauthenticatedError:
            return page(
                request,
                "signin.html",
                status_code=401,
                error="The user name or password is not right.",
                username=username,
            )
        except RateLimitedError as error:
            return page(
                request,
                "signin.html",
                status_code=429,
                error=f"Too many attempts: wait {max(1, round(error.retry_after_s))} seconds "
                "and try again.",
                username=username,
            )
        signed_in = see_other("/")
        web.sessions.start(signed_in, tokens)
        return signed_in

    @router.post("/signout")
    async def sign_out(request: Request) -> Response:
        await web.sessions.form(request)
        response = see_other("/signin")
        await web.sessions.end(request, response)
        return response

    @router.get("/account")
    async def account(request: Request) -> Response:
        await web.user(request)
        return page(request, "account.html", message=None)

    @router.post("/account/password")
    async def change_password(request: Request) -> Response:
        user = await web.user(request)
        form = await web.sessions.form(request)
        current, new = form.get("current_password"), form.get("new_password")
        tokens = await web.accounts.change_password(
            user,
            current if isinstance(current, str) else "",
            new if isinstance(new, str) else "",
        )
        response = page(request, "account.html", message="Your password is changed.")
        web.sessions.start(response, tokens)
        return response

    return router
