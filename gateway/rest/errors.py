"""The one mapping from errors to HTTP responses, and the one JSON error shape.

Every REST error, whether raised by our domain code, by FastAPI's request
validation or by routing (404, 405), reaches the client as
`{"error": "<a reason a person can act on>"}` with its status code.
"""

from __future__ import annotations

import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from gateway.audit import AuditLog
from skinscan.errors import (
    ConflictError,
    ImageTooLargeError,
    InvalidImageError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    SkinscanError,
    UnauthenticatedError,
    UnavailableError,
)

__all__ = [
    "ERROR_RESPONSES",
    "ErrorBody",
    "error_headers",
    "error_response",
    "http_status_for",
    "install",
]


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: str


def _documented(description: str) -> dict[str, object]:
    return {"model": ErrorBody, "description": description}


# For the OpenAPI document: what each route may answer besides success.
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: _documented("The request is malformed (a field missing or of the wrong type)."),
    401: _documented("No credentials, or credentials that are not valid: sign in again."),
    403: _documented("Your role or clinic may not do this."),
    404: _documented("No such job, route or model."),
    409: _documented("The request clashes with what exists (a user name taken, say)."),
    413: _documented("The upload is larger than the limit."),
    422: _documented("The image cannot be analysed (not a JPEG or PNG, corrupt, too small)."),
    429: _documented("Too many requests or sign-in attempts; retry after Retry-After seconds."),
    502: _documented(
        "A service behind the gateway failed while handling this request; check (a job may "
        "be queued) before sending it again."
    ),
    503: _documented("A service behind the gateway cannot answer now; retry later."),
}


def http_status_for(error: SkinscanError) -> int:
    if isinstance(error, ImageTooLargeError):
        return 413
    if isinstance(error, InvalidImageError):
        return 422
    if isinstance(error, ConflictError):
        return 409
    if isinstance(error, InvalidRequestError):
        return 400
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, UnavailableError):
        # 503 with Retry-After invites the same request again; a service behind that failed
        # midway (a job may be queued already) is a bad gateway answer instead.
        return 503 if error.resendable else 502
    if isinstance(error, UnauthenticatedError):
        return 401
    if isinstance(error, PermissionDeniedError):
        return 403
    if isinstance(error, RateLimitedError):
        return 429
    return 500


def error_headers(error: SkinscanError) -> dict[str, str]:
    if isinstance(error, UnauthenticatedError):
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(error, RateLimitedError) or (
        isinstance(error, UnavailableError) and error.resendable
    ):
        return {"Retry-After": str(max(1, math.ceil(error.retry_after_s)))}
    return {}


def error_response(error: SkinscanError) -> JSONResponse:
    return JSONResponse(
        ErrorBody(error=str(error)).model_dump(),
        status_code=http_status_for(error),
        headers=error_headers(error),
    )


def _validation_reason(error: RequestValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
        for problem in error.errors()
    )
    return f"the request is malformed: {problems}"


def install(app: FastAPI, audit: AuditLog | None = None) -> None:
    """Routes every error the app can meet through `error_response` or the same shape.

    With `audit`, a caller refused for their role or clinic is written to the audit log.
    """

    @app.exception_handler(SkinscanError)
    async def domain_error(request: Request, error: SkinscanError) -> JSONResponse:
        principal = getattr(request.state, "principal", None)
        if audit is not None and principal is not None and isinstance(error, PermissionDeniedError):
            route = request.scope.get("route")
            await audit.refused(
                principal, "access", method=request.method, route=getattr(route, "path", "?")
            )
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(InvalidRequestError(_validation_reason(error)))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse(
            ErrorBody(error=str(error.detail)).model_dump(),
            status_code=error.status_code,
            headers=error.headers,
        )

    # Starlette still logs the traceback after this answers.
    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception) -> JSONResponse:
        return JSONResponse(
            ErrorBody(error="internal error; the gateway's log has details").model_dump(),
            status_code=500,
        )
