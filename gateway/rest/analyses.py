"""REST routes of analyses and jobs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import JSONResponse

from gateway.accounts import Principal
from gateway.analysis_service import AnalysisService
from gateway.rest.auth import Authenticate
from gateway.rest.schemas import AnalysisBody, JobBody
from gateway.rest.uploads import read_image
from skinscan.jobs import JOB_WAIT_S

__all__ = ["analyses_router"]


def analyses_router(
    service: AnalysisService, max_image_bytes: int, authenticated: Authenticate
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["analyses"])

    @router.post(
        "/analyses",
        summary="Analyse one image and wait for the result",
        response_model=AnalysisBody,
        response_model_exclude_none=True,
    )
    async def analyze(
        caller: Principal = Depends(authenticated),
        image: UploadFile = File(..., description="JPEG or PNG"),
    ) -> dict[str, Any]:
        analysis = await service.analyze(
            caller, await read_image(image, max_image_bytes), image.filename or ""
        )
        return analysis.to_dict()

    @router.post(
        "/jobs",
        status_code=202,
        summary="Queue one image for analysis",
        responses={202: {"model": JobBody}},
    )
    async def submit_job(
        caller: Principal = Depends(authenticated),
        image: UploadFile = File(..., description="JPEG or PNG"),
    ) -> JSONResponse:
        job = await service.submit_job(
            caller, await read_image(image, max_image_bytes), image.filename or ""
        )
        return JSONResponse(
            job.to_dict(), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"}
        )

    @router.get(
        "/jobs/{job_id}",
        summary="A job's status and, once done, its result",
        response_model=JobBody,
        response_model_exclude_none=True,
    )
    async def get_job(
        job_id: str,
        caller: Principal = Depends(authenticated),
        wait_s: float = Query(
            0.0,
            ge=0,
            le=JOB_WAIT_S,
            description="Seconds to wait for the job to finish before answering (long "
            "polling); 0 answers at once. An unfinished job is answered as it stands.",
        ),
    ) -> dict[str, Any]:
        return (await service.get_job(caller, job_id, wait_s)).to_dict()

    return router
