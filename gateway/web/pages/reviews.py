"""Reviews: send a case to a dermatologist, their queue, their decision, and how the model does."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from gateway.web.context import WebContext, see_other
from gateway.web.forms import text

__all__ = ["review_pages"]


def review_pages(web: WebContext) -> APIRouter:
    router = web.router()
    page = web.renderer.page
    records = web.records

    @router.post("/analyses/{analysis_id}/reviews")
    async def request_review(request: Request, analysis_id: str) -> Response:
        user = await web.user(request)
        form = await web.sessions.form(request)
        await records.reviews.request(user, analysis_id, text(form, "note") or None)
        return see_other(f"/analyses/{analysis_id}")

    @router.get("/reviews")
    async def queue(request: Request) -> Response:
        user = await web.user(request)
        waiting = await records.reviews.queue(user, "open")
        done = await records.reviews.queue(user, "done")
        # The names a reviewer needs to know whose case it is (decrypted once per patient).
        patients = {}
        for review in [*waiting, *done[-20:]]:
            if review.patient_id not in patients:
                patients[review.patient_id] = await records.patients.get(user, review.patient_id)
        return page(
            request,
            "reviews.html",
            waiting=waiting,
            done=list(reversed(done[-20:])),
            patients=patients,
        )

    @router.post("/reviews/{review_id}/decision")
    async def decide(request: Request, review_id: str) -> Response:
        user = await web.user(request)
        form = await web.sessions.form(request)
        review = await records.reviews.decide(
            user,
            review_id,
            text(form, "diagnosis"),
            text(form, "method"),
            text(form, "note") or None,
        )
        return see_other(f"/analyses/{review.analysis_id}")

    @router.get("/performance")
    async def performance(request: Request) -> Response:
        user = await web.user(request)
        return page(request, "performance.html", models=await records.thresholds.performance(user))

    @router.post("/performance/thresholds")
    async def adopt(request: Request) -> Response:
        user = await web.user(request)
        form = await web.sessions.form(request)
        await records.thresholds.adopt(user, text(form, "model_name"), text(form, "model_version"))
        return see_other("/performance")

    @router.post("/performance/thresholds/withdraw")
    async def withdraw(request: Request) -> Response:
        user = await web.user(request)
        form = await web.sessions.form(request)
        await records.thresholds.withdraw(
            user, text(form, "model_name"), text(form, "model_version")
        )
        return see_other("/performance")

    return router
