"""Pages from Jinja2 templates, autoescaped: every value from a user is inert HTML."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from gateway.accounts.roles import Action, Principal
from gateway.reports.wording import (
    SHORT_DISCLAIMER,
    age_words,
    body_site_words,
    diagnosis_words,
    finding_title,
    result_words,
    when_words,
)
from gateway.web.session import CSRF_FIELD, WebSessions
from skinscan.records import BODY_SITES
from skinscan_model.diagnoses import DIAGNOSES

__all__ = ["Renderer"]


def _percent(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


class Renderer:
    def __init__(self, sessions: WebSessions) -> None:
        self.sessions = sessions
        self.environment = Environment(
            loader=PackageLoader("gateway.web", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.environment.filters |= {
            "when": when_words,
            "percent": _percent,
            "body_site": body_site_words,
            "diagnosis": diagnosis_words,
            "finding_title": finding_title,
        }
        self.environment.globals |= {
            "BODY_SITES": BODY_SITES,
            "DIAGNOSES": DIAGNOSES,
            "SHORT_DISCLAIMER": SHORT_DISCLAIMER,
            "Action": Action,
            "CSRF_FIELD": CSRF_FIELD,
            "result_words": result_words,
            "age": age_words,
        }

    def page(
        self,
        request: Request,
        template: str,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        principal: Principal | None = getattr(request.state, "principal", None)
        html = self.environment.get_template(template).render(
            request=request,
            principal=principal,
            may=(lambda action: principal is not None and principal.may(action)),
            csrf_token=self.sessions.csrf_token(request),
            **context,
        )
        # Pages hold patient data: no browser or proxy keeps a copy.
        return HTMLResponse(html, status_code, headers={"Cache-Control": "no-store"})
