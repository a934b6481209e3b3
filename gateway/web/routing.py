"""The web app's route class: a page's errors become pages, not JSON.

No session -> the sign-in page. A domain error (bad input, not found, not
allowed) -> an error page with the same status code the API would give and the
same reason, and a way back. Renewed session cookies are set on whatever the
page answers.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from gateway.audit import AuditLog
from gateway.rest.errors import error_headers, http_status_for
from gateway.web.rendering import Renderer
from gateway.web.session import SignInRequired, WebSessions
from skinscan.errors import PermissionDeniedError, RateLimitedError, SkinscanError

__all__ = ["web_route_class"]


def _back(request: Request) -> str:
    """The page the user came from, if it is one of ours; else home."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc != request.url.netloc:
        return "/"
    return referer.path or "/"


def web_route_class(sessions: WebSessions, renderer: Renderer, audit: AuditLog) -> type[APIRoute]:
    def error_page(request: Request, status: int, reason: str) -> Response:
        return renderer.page(
            request,
            "error.html",
            status_code=status,
            status=status,
            reason=reason,
            back=_back(request),
        )

    class WebRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def page(request: Request) -> Response:
                response: Response
                try:
                    response = await handler(request)
                except SignInRequired:
                    response = RedirectResponse("/signin", status_code=303)
                    sessions.forget(response)
                    return response
                except SkinscanError as error:
                    principal: Any = getattr(request.state, "principal", None)
                    if principal is not None and isinstance(error, PermissionDeniedError):
                        await audit.refused(
                            principal, "access", method=request.method, route=self.path
                        )
                    response = error_page(request, http_status_for(error), str(error))
                    # Retry-After on a refusal for rate; never WWW-Authenticate (no session
                    # is a redirect above, not a 401).
                    if isinstance(error, RateLimitedError):
                        response.headers.update(error_headers(error))
                except RequestValidationError as error:
                    problems = "; ".join(
                        f"{problem['loc'][-1]}: {problem['msg']}" for problem in error.errors()
                    )
                    response = error_page(request, 400, f"the form is not complete: {problems}")
                except HTTPException as error:
                    response = error_page(request, error.status_code, str(error.detail))
                sessions.finish(request, response)
                return response

            return page

    return WebRoute
