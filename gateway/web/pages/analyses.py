"""A lesion's page (new image, follow-up), analysing an image, the result and its report."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response

from gateway.reports.content import gather
from gateway.reports.pictures import coloured_heatmap, display_image, encode, overlay
from gateway.rest.uploads import MULTIPART_OVERHEAD, read_image
from gateway.web.context import WebContext, see_other
from gateway.web.follow_up import follow_up
from gateway.web.forms import upload
from skinscan.errors import InvalidRequestError, NotFoundError

__all__ = ["analysis_pages"]

_PICTURE_HEADERS = {"Cache-Control": "no-store"}


def analysis_pages(web: WebContext) -> APIRouter:
    router = web.router()
    page = web.renderer.page
    records = web.records

    @router.get("/lesions/{lesion_id}")
    async def lesion(request: Request, lesion_id: str) -> Response:
        user = await web.user(request)
        info = await records.lesions.get(user, lesion_id)
        patient = await records.patients.get(user, info.patient_id)
        history = await records.analyses.search(user, lesion_id=lesion_id, limit=24)
        clinic = await records.clinic.get(user)
        return page(
            request,
            "lesion.html",
            lesion=info,
            patient=patient,
            entries=follow_up(history.items),
            more=history.next_cursor is not None,
            keeps_images=clinic.keep_images,
        )

    @router.post("/lesions/{lesion_id}/analyses")
    async def analyze(request: Request, lesion_id: str) -> Response:
        user = await web.user(request)
        form = await web.sessions.form(
            request, max_part_size=web.max_image_bytes + MULTIPART_OVERHEAD
        )
        image = upload(form, "image", "photo")
        if image is None:
            raise InvalidRequestError("choose an image or take a photo first")
        data = await read_image(image, web.max_image_bytes)
        recorded = await records.analyses.analyze(user, lesion_id, data)
        return see_other(f"/analyses/{recorded.id}")

    @router.get("/analyses/{analysis_id}")
    async def result(request: Request, analysis_id: str) -> Response:
        user = await web.user(request)
        content = await gather(records, user, analysis_id)
        return page(
            request,
            "result.html",
            content=content,
            recorded=content.analysis,
            analysis=content.analysis.analysis,
            open_review=next((r for r in content.reviews if r.diagnosis is None), None),
            done_reviews=[r for r in content.reviews if r.diagnosis],
        )

    @router.get("/analyses/{analysis_id}/report")
    async def report(request: Request, analysis_id: str) -> Response:
        user = await web.user(request)
        content = await gather(records, user, analysis_id)
        return page(
            request,
            "report.html",
            content=content,
            recorded=content.analysis,
            analysis=content.analysis.analysis,
            done_reviews=[r for r in content.reviews if r.diagnosis],
        )

    @router.get("/analyses/{analysis_id}/image.jpg")
    async def image(request: Request, analysis_id: str) -> Response:
        user = await web.user(request, renew=False)
        data = await records.analyses.image(user, analysis_id)
        if data is None:
            raise NotFoundError("the image was not kept")
        shown, _ = await asyncio.to_thread(display_image, data)
        return Response(encode(shown), media_type="image/jpeg", headers=_PICTURE_HEADERS)

    @router.get("/analyses/{analysis_id}/heatmap.png")
    async def heatmap(request: Request, analysis_id: str) -> Response:
        """Over the kept image, sized like image.jpg; without it, the heat map alone."""
        user = await web.user(request, renew=False)
        recorded = await records.analyses.get(user, analysis_id)
        heat = recorded.analysis.heatmap
        if heat is None:
            raise NotFoundError("this analysis has no heat map")
        data = await records.analyses.image(user, analysis_id) if recorded.image_kept else None

        def draw() -> bytes:
            if data is None:
                return encode(coloured_heatmap(heat), "PNG")
            shown, original = display_image(data)
            return encode(overlay(heat, original, shown.size), "PNG")

        return Response(
            await asyncio.to_thread(draw), media_type="image/png", headers=_PICTURE_HEADERS
        )

    return router
