"""Security headers on every answer of the REST port: pages, API and files alike.

The Content-Security-Policy admits scripts and styles from this origin only:
no inline script can run, so markup smuggled into a page (a patient's name,
say) cannot act even if escaping ever failed. Swagger UI sets inline styles,
so /docs alone allows those.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

__all__ = ["install_security_headers"]

_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' blob: data:",
    "connect-src": "'self'",
    "font-src": "'self'",
    "manifest-src": "'self'",
    "worker-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def _policy(**changes: str) -> str:
    return "; ".join(f"{k} {v}" for k, v in (_POLICY | changes).items())


PAGE_POLICY = _policy()
DOCS_POLICY = _policy(**{"style-src": "'self' 'unsafe-inline'"})


def install_security_headers(app: FastAPI) -> None:
    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        docs = request.url.path == "/docs" or request.url.path.startswith("/docs/")
        headers = response.headers
        headers.setdefault("Content-Security-Policy", DOCS_POLICY if docs else PAGE_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "geolocation=(), microphone=()")
        if request.url.scheme == "https":
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
