"""The REST routes of the gateway (FastAPI), over the same domain service as gRPC."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from gateway.accounts import AccountService
from gateway.analysis_service import AnalysisService
from gateway.audit import AuditLog
from gateway.batch_analysis import BatchAnalysis
from gateway.records import Records
from gateway.rest import errors
from gateway.rest.accounts import accounts_router
from gateway.rest.analyses import analyses_router
from gateway.rest.auth import require_caller
from gateway.rest.front_door import FrontDoor
from gateway.rest.records import records_router
from gateway.rest.reports import reports_router
from gateway.rest.thresholds import thresholds_router
from gateway.web.app import install_security_headers, install_web_app
from skinscan_kit.settings import MAX_BATCH_IMAGES

__all__ = ["create_app"]


def create_app(
    service: AnalysisService,
    batches: BatchAnalysis,
    accounts: AccountService,
    audit: AuditLog,
    records: Records,
    max_image_bytes: int,
    is_ready: Callable[[], bool],
    refresh_ttl_s: int = 14 * 24 * 3600,
    dependencies: Callable[[], Awaitable[dict[str, str]]] | None = None,
    max_batch_images: int = MAX_BATCH_IMAGES,
) -> FastAPI:
    app = FastAPI(
        title="skinscan",
        version="0.1.0",
        description="Skin-lesion triage of dermoscopic images. Decision support only: "
        "results do not replace a dermatologist. The clinician's web app is at `/`.",
        responses=errors.ERROR_RESPONSES,
        # /docs is served by the web app from files in the package (no CDN).
        docs_url=None,
        redoc_url=None,
    )
    errors.install(app, audit)

    # Innermost of the middlewares; the security headers wrap it (and every answer).
    app.add_middleware(
        FrontDoor,
        max_image_bytes=max_image_bytes,
        shed={
            ("POST", "/v1/analyses"): service.admission.check,
            ("POST", "/v1/jobs"): service.shed_job,
        },
        # A batch's body holds many images; each is still held to max_image_bytes.
        body_limits={"/v1/analyses:batch": max_image_bytes * max_batch_images},
    )

    authenticated = require_caller(accounts)
    app.include_router(
        analyses_router(service, batches, max_image_bytes, max_batch_images, authenticated)
    )
    app.include_router(accounts_router(accounts, audit, authenticated))
    app.include_router(records_router(records, max_image_bytes, authenticated))
    app.include_router(thresholds_router(records, authenticated))
    sessions = install_web_app(app, accounts, records, audit, max_image_bytes, refresh_ttl_s)
    app.include_router(reports_router(records, require_caller(accounts, sessions)))
    # Last, so it wraps every answer, the size check's included.
    install_security_headers(app)

    @app.get(
        "/healthz",
        summary="200 once the gateway serves: ok, or degraded with the dependency that is down",
    )
    async def health() -> JSONResponse:
        if not is_ready():
            return JSONResponse({"status": "starting"}, status_code=503)
        report = await dependencies() if dependencies is not None else {}
        down = [name for name, state in report.items() if state == "unavailable"]
        return JSONResponse(
            {"status": "degraded" if down else "ok", "dependencies": report}, status_code=200
        )

    return app
