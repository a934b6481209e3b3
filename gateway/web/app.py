"""Puts the web app's pages, files and headers on the gateway's FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI

from gateway.accounts import AccountService
from gateway.audit import AuditLog
from gateway.records import Records
from gateway.web.assets import install_assets
from gateway.web.context import WebContext
from gateway.web.headers import install_security_headers
from gateway.web.pages.admin import admin_pages
from gateway.web.pages.analyses import analysis_pages
from gateway.web.pages.history import history_pages
from gateway.web.pages.patients import patient_pages
from gateway.web.pages.reviews import review_pages
from gateway.web.pages.sign_in import sign_in_pages
from gateway.web.rendering import Renderer
from gateway.web.routing import web_route_class
from gateway.web.session import WebSessions

__all__ = ["install_security_headers", "install_web_app"]


def install_web_app(
    app: FastAPI,
    accounts: AccountService,
    records: Records,
    audit: AuditLog,
    max_image_bytes: int,
    refresh_ttl_s: int,
) -> WebSessions:
    sessions = WebSessions(accounts, refresh_ttl_s)
    renderer = Renderer(sessions)
    web = WebContext(
        accounts=accounts,
        records=records,
        audit=audit,
        sessions=sessions,
        renderer=renderer,
        route_class=web_route_class(sessions, renderer, audit),
        max_image_bytes=max_image_bytes,
    )
    for pages in (
        sign_in_pages,
        patient_pages,
        analysis_pages,
        review_pages,
        history_pages,
        admin_pages,
    ):
        app.include_router(pages(web))
    install_assets(app, renderer)
    return sessions
