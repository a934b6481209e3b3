"""Find or register a patient; a patient's lesions; add a lesion at a body site."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from gateway.web.context import WebContext, see_other
from gateway.web.forms import optional_date, optional_int, text
from skinscan.records import RecordedAnalysis

__all__ = ["patient_pages"]


def patient_pages(web: WebContext) -> APIRouter:
    router = web.router()
    page = web.renderer.page
    records = web.records

    async def patients_page(
        request: Request, name: str = "", identifier: str = "", cursor: str | None = None
    ) -> Response:
        user = await web.user(request)
        found = await records.patients.search(
            user, name or None, identifier or None, limit=25, cursor=cursor
        )
        return page(
            request,
            "patients.html",
            patients=found.items,
            next_cursor=found.next_cursor,
            name=name,
            identifier=identifier,
            searched=bool(name or identifier),
        )

    @router.get("/patients")
    async def patients(request: Request) -> Response:
        return await patients_page(request)

    # A POST, so a patient's name never appears in a URL (history, logs, referrers).
    @router.post("/patients/search")
    async def search(request: Request) -> Response:
        await web.user(request)
        form = await web.sessions.form(request)
        return await patients_page(
            request, text(form, "name"), text(form, "identifier"), text(form, "cursor") or None
        )

    @router.post("/patients")
    async def create(request: Request) -> Response:
        user = await web.user(request)
        form = await web.sessions.form(request)
        patient = await records.patients.create(
            user,
            text(form, "name"),
            text(form, "sex") or "unknown",
            optional_date(form, "birth_date", "the date of birth"),
            optional_int(form, "age_years", "the age"),
            text(form, "identifier") or None,
        )
        return see_other(f"/patients/{patient.id}")

    @router.get("/patients/{patient_id}")
    async def patient(request: Request, patient_id: str) -> Response:
        user = await web.user(request)
        info = await records.patients.get(user, patient_id)
        lesions = await records.lesions.of_patient(user, patient_id)
        analyses = await records.analyses.search(user, patient_id=patient_id, limit=100)
        latest: dict[str, RecordedAnalysis] = {}
        for recorded in analyses.items:  # newest first: the first seen per lesion is its latest
            latest.setdefault(recorded.lesion_id, recorded)
        return page(request, "patient.html", patient=info, lesions=lesions, latest=latest)

    @router.post("/patients/{patient_id}/lesions")
    async def add_lesion(request: Request, patient_id: str) -> Response:
        user = await web.user(request)
        form = await web.sessions.form(request)
        lesion = await records.lesions.create(
            user,
            patient_id,
            text(form, "body_site"),
            text(form, "description") or None,
            optional_date(form, "first_seen", "the date first seen"),
        )
        return see_other(f"/lesions/{lesion.id}")

    return router
