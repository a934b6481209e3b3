"""What the browser fetches besides pages: the app's own files, the PWA manifest and
service worker, and Swagger UI's files for /docs, all from the installed package."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from gateway.web.rendering import Renderer

__all__ = ["STATIC", "install_assets"]

STATIC = Path(__file__).parent / "static"


def _swagger_ui_files() -> Path:
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed (pip install -e .)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def install_assets(app: FastAPI, renderer: Renderer) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/docs/assets", StaticFiles(directory=_swagger_ui_files()), name="docs-assets")
    router = APIRouter(include_in_schema=False)

    @router.get("/manifest.webmanifest")
    async def manifest() -> Response:
        return FileResponse(STATIC / "manifest.webmanifest", media_type="application/manifest+json")

    # At the root, so its scope is the whole app.
    @router.get("/sw.js")
    async def service_worker() -> Response:
        return FileResponse(
            STATIC / "sw.js",
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache"},
        )

    @router.get("/offline")
    async def offline(request: Request) -> Response:
        return renderer.page(request, "offline.html")

    @router.get("/docs")
    async def docs() -> Response:
        # The interactive API documentation, from files served here: it works offline.
        return HTMLResponse((STATIC / "docs.html").read_text())

    app.include_router(router)
