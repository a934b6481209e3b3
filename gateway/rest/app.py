"""The REST routes of the gateway (FastAPI), over the same domain service as gRPC."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, File, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from gateway import metrics
from gateway.analysis_service import AnalysisService
from gateway.rest import errors
from gateway.rest.schemas import AnalysisBody, JobBody
from skinscan.errors import ImageTooLargeError
from skinscan_kit.uploads import check_not_empty, check_upload_size

__all__ = ["create_app"]

# Multipart framing around the image: boundaries, headers, other small fields.
MULTIPART_OVERHEAD = 64 * 1024


def create_app(
    service: AnalysisService, max_image_bytes: int, is_ready: Callable[[], bool]
) -> FastAPI:
    app = FastAPI(
        title="skinscan",
        version="0.1.0",
        description="Skin-lesion triage of dermoscopic images. Decision support only: "
        "results do not replace a dermatologist.",
        responses=errors.ERROR_RESPONSES,
    )
    errors.install(app)

    @app.middleware("http")
    async def limit_and_time(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        declared = request.headers.get("content-length", "")
        try:
            # Refused before the body is read, so a huge upload costs nothing.
            if declared.isdigit():
                check_upload_size(int(declared), max_image_bytes, framing=MULTIPART_OVERHEAD)
        except ImageTooLargeError as error:
            response: Response = errors.error_response(error)
        else:
            response = await call_next(request)
        route = request.scope.get("route")
        metrics.HTTP_SECONDS.labels(
            method=request.method,
            route=getattr(route, "path", "unmatched"),
            status=str(response.status_code),
        ).observe(time.perf_counter() - started)
        return response

    async def read_upload(image: UploadFile) -> bytes:
        data = await image.read(max_image_bytes + 1)
        check_upload_size(image.size or len(data), max_image_bytes)
        check_not_empty(len(data))
        return data

    @app.post(
        "/v1/analyses",
        summary="Analyse one image and wait for the result",
        response_model=AnalysisBody,
        response_model_exclude_none=True,
    )
    async def analyze(image: UploadFile = File(..., description="JPEG or PNG")) -> dict[str, Any]:
        analysis = await service.analyze(await read_upload(image), image.filename or "")
        return analysis.to_dict()

    @app.post(
        "/v1/jobs",
        status_code=202,
        summary="Queue one image for analysis",
        responses={202: {"model": JobBody}},
    )
    async def submit_job(image: UploadFile = File(..., description="JPEG or PNG")) -> JSONResponse:
        job = await service.submit_job(await read_upload(image), image.filename or "")
        return JSONResponse(
            job.to_dict(), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"}
        )

    @app.get(
        "/v1/jobs/{job_id}",
        summary="A job's status and, once done, its result",
        response_model=JobBody,
        response_model_exclude_none=True,
    )
    async def get_job(job_id: str) -> dict[str, Any]:
        return (await service.get_job(job_id)).to_dict()

    @app.get("/healthz", summary="200 once the gateway and what it depends on are ready")
    async def health() -> JSONResponse:
        ready = is_ready()
        return JSONResponse(
            {"status": "ok" if ready else "starting"}, status_code=200 if ready else 503
        )

    return app
