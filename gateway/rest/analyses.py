"""REST routes of analyses and jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import JSONResponse

from gateway.accounts import Principal
from gateway.analysis_service import AnalysisService
from gateway.batch_analysis import BatchAnalysis, Outcome
from gateway.rest.auth import Authenticate
from gateway.rest.errors import http_status_for
from gateway.rest.schemas import AnalysisBody, BatchBody, JobBody
from gateway.rest.uploads import read_image
from skinscan.errors import InvalidRequestError, RateLimitedError, SkinscanError, UnavailableError
from skinscan.jobs import JOB_WAIT_S

__all__ = ["analyses_router"]


def _item(index: int, filename: str, outcome: Outcome) -> dict[str, Any]:
    if isinstance(outcome, SkinscanError):
        error: dict[str, Any] = {"status": http_status_for(outcome), "error": str(outcome)}
        if isinstance(outcome, RateLimitedError | UnavailableError):
            error["retry_after_s"] = outcome.retry_after_s
        return {"index": index, "filename": filename, "error": error}
    return {"index": index, "filename": filename, "analysis": outcome.to_dict()}


def analyses_router(
    service: AnalysisService,
    batches: BatchAnalysis,
    max_image_bytes: int,
    max_batch_images: int,
    authenticated: Authenticate,
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
        "/analyses:batch",
        summary="Analyse several images in one request",
        description="A multipart upload of up to SKINSCAN_MAX_BATCH_IMAGES (256) files, each "
        "an `images` field. They are analysed together, which costs the service less per "
        "image than one request each. The answer has one entry per file, in upload order: "
        "its analysis, or the error a request for it alone would have had (a bad image "
        "fails alone). Each image counts against the rate limit as one request.",
        response_model=BatchBody,
        response_model_exclude_none=True,
    )
    async def analyze_batch(
        caller: Principal = Depends(authenticated),
        images: list[UploadFile] = File(..., description="JPEG or PNG files"),
    ) -> dict[str, Any]:
        if len(images) > max_batch_images:
            raise InvalidRequestError(
                f"{len(images)} images in one request, more than the limit of "
                f"{max_batch_images}: send the rest in another request"
            )
        names = [image.filename or "" for image in images]

        async def received() -> AsyncIterator[tuple[str, bytes | SkinscanError]]:
            for image, name in zip(images, names, strict=True):
                try:
                    yield name, await read_image(image, max_image_bytes)
                except InvalidRequestError as refused:
                    yield name, refused

        answers = {i: o async for i, o in batches.analyze(caller, received())}
        return {"results": [_item(i, names[i], answers[i]) for i in range(len(images))]}

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
