"""The REST face of the gateway (FastAPI). Same domain service and results as gRPC."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, File, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from gateway import metrics
from gateway.analysis_service import AnalysisService
from skinscan.errors import (
    ImageTooLargeError,
    InvalidImageError,
    InvalidRequestError,
    NotFoundError,
    SkinscanError,
    UnavailableError,
)

__all__ = ["create_app", "http_status_for"]

# Multipart framing around the image: boundaries, headers, other small fields.
MULTIPART_OVERHEAD = 64 * 1024


def http_status_for(error: SkinscanError) -> int:
    if isinstance(error, ImageTooLargeError):
        return 413
    if isinstance(error, InvalidImageError):
        return 422
    if isinstance(error, InvalidRequestError):
        return 400
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, UnavailableError):
        return 503
    return 500


def create_app(service: AnalysisService, is_ready: Callable[[], bool]) -> FastAPI:
    app = FastAPI(
        title="skinscan",
        version="0.1.0",
        description="Skin-lesion triage of dermoscopic images. Decision support only: "
        "results do not replace a dermatologist.",
    )

    @app.exception_handler(SkinscanError)
    async def domain_error(request: Request, error: SkinscanError) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=http_status_for(error))

    @app.middleware("http")
    async def limit_and_time(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        declared = request.headers.get("content-length")
        if (
            declared
            and declared.isdigit()
            and int(declared) > service.max_bytes + MULTIPART_OVERHEAD
        ):
            # Refused before the body is read, so a huge upload costs nothing.
            response: Response = JSONResponse(
                {
                    "error": f"the upload has {declared} bytes, more than the limit of {service.max_bytes}"
                },
                status_code=413,
            )
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
        data = await image.read(service.max_bytes + 1)
        if len(data) > service.max_bytes:
            raise ImageTooLargeError(f"the upload passed {service.max_bytes} bytes, the limit")
        return data

    @app.post("/v1/analyses", summary="Analyse one image and wait for the result")
    async def analyze(image: UploadFile = File(..., description="JPEG or PNG")) -> dict[str, Any]:
        analysis = await service.analyze(await read_upload(image), image.filename or "")
        return analysis.to_dict()

    @app.post("/v1/jobs", status_code=202, summary="Queue one image for analysis")
    async def submit_job(image: UploadFile = File(..., description="JPEG or PNG")) -> JSONResponse:
        job = await service.submit_job(await read_upload(image), image.filename or "")
        return JSONResponse(
            job.to_dict(), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"}
        )

    @app.get("/v1/jobs/{job_id}", summary="A job's status and, once done, its result")
    async def get_job(job_id: str) -> dict[str, Any]:
        return (await service.get_job(job_id)).to_dict()

    @app.get("/healthz", summary="200 once the gateway and what it depends on are ready")
    async def health() -> JSONResponse:
        ready = is_ready()
        return JSONResponse(
            {"status": "ok" if ready else "starting"}, status_code=200 if ready else 503
        )

    return app
