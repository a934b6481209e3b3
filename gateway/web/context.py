"""What every page module needs, built once by gateway.web.web_app."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from gateway.accounts import AccountService, Principal
from gateway.audit import AuditLog
from gateway.records import Records
from gateway.web.rendering import Renderer
from gateway.web.session import WebSessions

__all__ = ["WebContext", "see_other"]


def see_other(path: str) -> RedirectResponse:
    """After a POST, the browser GETs the result (so a reload never repeats the action)."""
    return RedirectResponse(path, status_code=303)


@dataclass(frozen=True)
class WebContext:
    accounts: AccountService
    records: Records
    audit: AuditLog
    sessions: WebSessions
    renderer: Renderer
    route_class: type[APIRoute]
    max_image_bytes: int

    def router(self) -> APIRouter:
        # Pages are for people; the OpenAPI document is for programs.
        return APIRouter(route_class=self.route_class, include_in_schema=False)

    async def user(self, request: Request, renew: bool = True) -> Principal:
        return await self.sessions.principal(request, renew=renew)
