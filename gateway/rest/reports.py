"""REST routes of reports: the PDF of an analysis."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Response

from gateway.accounts import Principal
from gateway.database.schema import utc_now
from gateway.records import Records
from gateway.reports.content import gather
from gateway.reports.pdf import report_pdf
from gateway.rest.auth import Authenticate

__all__ = ["reports_router"]


def reports_router(records: Records, authenticated: Authenticate) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["reports"])

    @router.get(
        "/analyses/{analysis_id}/report.pdf",
        summary="A recorded analysis as a one-page PDF report (clinic, patient, lesion, image, "
        "heat map, result, findings, model, disclaimer)",
        response_class=Response,
        responses={200: {"content": {"application/pdf": {}}}},
    )
    async def report(analysis_id: str, caller: Principal = Depends(authenticated)) -> Response:
        content = await gather(records, caller, analysis_id)
        pdf = await asyncio.to_thread(report_pdf, content, utc_now())
        return Response(
            pdf,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="skinscan-report-{analysis_id}.pdf"',
                "Cache-Control": "no-store",
            },
        )

    return router
