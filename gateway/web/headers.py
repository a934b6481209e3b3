"""Security headers on every answer of the REST port: pages, API and files alike.

The Content-Security-Policy admits scripts and styles from this origin only:
no inline script can run, so markup smuggled into a page (a patient's name,
say) cannot act even if escaping ever failed. Swagger UI sets inline styles,
so /docs alone allows those.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecurityHeaders", "install_security_headers"]

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


class SecurityHeaders:
    """Plain ASGI (no task group per request, as BaseHTTPMiddleware would run): it is on
    every answer, the cheap refusals under overload included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        docs = path == "/docs" or path.startswith("/docs/")
        https = scope.get("scheme") == "https"

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", DOCS_POLICY if docs else PAGE_POLICY)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("Permissions-Policy", "geolocation=(), microphone=()")
                if https:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, send_secured)


def install_security_headers(app: FastAPI) -> None:
    """Wraps every middleware added before it: call it last."""
    app.add_middleware(SecurityHeaders)
