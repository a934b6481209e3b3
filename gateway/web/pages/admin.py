"""Administration: users, API keys, the clinic's image setting, and the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from gateway.accounts.roles import Action
from gateway.web.context import WebContext, see_other
from gateway.web.forms import checkbox, optional_int, optional_share, text

__all__ = ["admin_pages"]

AUDIT_PAGE = 50


def admin_pages(web: WebContext) -> APIRouter:
    router = web.router()
    page = web.renderer.page
    accounts, records = web.accounts, web.records

    async def admin_page(request: Request, new_key: str | None = None) -> Response:
        user = await web.user(request)
        user.require(Action.MANAGE_USERS)
        return page(
            request,
            "admin.html",
            users=await accounts.list_users(user),
            keys=await accounts.list_api_keys(user),
            clinic=await records.clinic.get(user),
            new_key=new_key,
        )

    @router.get("/admin")
    async def admin(request: Request) -> Response:
        return await admin_page(request)

    @router.post("/admin/users")
    async def create_user(request: Request) -> Response:
        user = await web.user(request)
        form = await web.sessions.form(request)
        password = form.get("password")
        await accounts.create_user(
            user,
            text(form, "username"),
            password if isinstance(password, str) else "",
            text(form, "role"),
        )
        return see_other("/admin")

    @router.post("/admin/users/{user_id}/disable")
    async def disable_user(request: Request, user_id: str) -> Response:
        user = await web.user(request)
        await web.sessions.form(request)
        await accounts.disable_user(user, user_id)
        return see_other("/admin")

    @router.post("/admin/api-keys")
    async def create_key(request: Request) -> Response:
        user = await web.user(request)
        form = await web.sessions.form(request)
        _, secret = await accounts.create_api_key(user, text(form, "name"), text(form, "role"))
        # Shown on this answer only: the secret is never stored, so it cannot be shown again.
        return await admin_page(request, new_key=secret)

    @router.post("/admin/api-keys/{key_id}/revoke")
    async def revoke_key(request: Request, key_id: str) -> Response:
        user = await web.user(request)
        await web.sessions.form(request)
        await accounts.revoke_api_key(user, key_id)
        return see_other("/admin")

    @router.post("/admin/clinic")
    async def clinic(request: Request) -> Response:
        user = await web.user(request)
        form = await web.sessions.form(request)
        await records.clinic.update(
            user,
            checkbox(form, "keep_images"),
            optional_int(form, "image_retention_days", "the retention period"),
            optional_share(form, "audit_percent", "the audit sample"),
        )
        return see_other("/admin")

    @router.get("/admin/audit")
    async def audit(request: Request, before: int | None = None) -> Response:
        user = await web.user(request)
        entries = await web.audit.entries(user, limit=AUDIT_PAGE, before_id=before)
        return page(
            request,
            "audit.html",
            entries=entries,
            older=entries[-1].id if len(entries) == AUDIT_PAGE else None,
        )

    return router
