"""Past analyses of the clinic, searched by patient, date and result."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from gateway.web.context import WebContext
from gateway.web.forms import optional_datetime, text
from skinscan.records import Patient, RecordedAnalysis

__all__ = ["history_pages"]

PAGE = 30
# Several patients may share a name; more than this is a search to narrow.
MAX_PATIENTS = 20


def history_pages(web: WebContext) -> APIRouter:
    router = web.router()
    page = web.renderer.page
    records = web.records

    async def history_page(request: Request, form: dict[str, str]) -> Response:
        user = await web.user(request)
        since = optional_datetime(form, "since", "the first day")
        until_day = optional_datetime(form, "until", "the last day")
        until = until_day.replace(hour=23, minute=59, second=59) if until_day else None
        label = form.get("label") or None
        name, identifier = form.get("name", ""), form.get("identifier", "")
        cursor = form.get("cursor") or None
        patients: dict[str, Patient] = {}
        analyses: list[RecordedAnalysis] = []
        next_cursor = None
        if name or identifier:
            found = await records.patients.search(
                user, name or None, identifier or None, limit=MAX_PATIENTS
            )
            for patient in found.items:
                patients[patient.id] = patient
                hits = await records.analyses.search(
                    user, patient_id=patient.id, since=since, until=until, label=label, limit=PAGE
                )
                analyses += hits.items
            analyses.sort(key=lambda r: r.created_at, reverse=True)
        else:
            hits = await records.analyses.search(
                user, since=since, until=until, label=label, limit=PAGE, cursor=cursor
            )
            analyses, next_cursor = hits.items, hits.next_cursor
            for recorded in analyses:
                if recorded.patient_id not in patients:
                    patients[recorded.patient_id] = await records.patients.get(
                        user, recorded.patient_id
                    )
        return page(
            request,
            "history.html",
            analyses=analyses,
            patients=patients,
            next_cursor=next_cursor,
            form=form,
        )

    @router.get("/history")
    async def history(request: Request) -> Response:
        return await history_page(request, {})

    # A POST, so a patient's name never appears in a URL.
    @router.post("/history")
    async def search(request: Request) -> Response:
        await web.user(request)
        posted = await web.sessions.form(request)
        fields = ("name", "identifier", "since", "until", "label", "cursor")
        return await history_page(request, {f: text(posted, f) for f in fields})

    return router
