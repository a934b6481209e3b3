"""The first stop of every REST request, before any route: its request id, its time in the
metrics, and the refusals that must cost nothing.

An upload is refused by its declared size before its body is read, so a huge one costs
nothing. An analysis or a job is refused while the gateway is full before its body is
parsed or its credentials are checked: under 3x overload on every path, a refused REST
analysis had cost the gateway a multipart parse, a Redis round trip for the rate limit and
two framework middlewares, about what an accepted one costs, and REST took two thirds of
the gateway's event loop. This is plain ASGI, not Starlette's BaseHTTPMiddleware, which
runs each request in a task group of its own with memory streams between them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import metrics
from gateway.rest import errors
from gateway.rest.uploads import MULTIPART_OVERHEAD
from skinscan.errors import ImageTooLargeError, OverloadedError
from skinscan_kit import request_id
from skinscan_kit.uploads import check_upload_size

__all__ = ["FrontDoor"]


class FrontDoor:
    """`shed`: for (method, path), a check that raises OverloadedError when a request would
    be refused anyway (see the module's docstring). `body_limits`: for a path whose body
    may hold more than one image, its own limit in place of `max_image_bytes`."""

    def __init__(
        self,
        app: ASGIApp,
        max_image_bytes: int,
        shed: Mapping[tuple[str, str], Callable[[], None]],
        body_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_image_bytes = max_image_bytes
        self.shed = dict(shed)
        self.body_limits = dict(body_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = Headers(scope=scope)
        # Set before the route runs, so the analysis and every log line carry it.
        named = request_id.begin(headers.get(request_id.HEADER))
        status = 500  # unless an answer starts: an error escaped to Starlette's handler

        async def send_named(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = named
            await send(message)

        refused_at = "unmatched"
        try:
            refusal = self._refusal(scope["method"], scope["path"], headers)
            if refusal is None:
                await self.app(scope, receive, send_named)
            else:
                if (scope["method"], scope["path"]) in self.shed:
                    refused_at = scope["path"]  # one of a few fixed paths: bounded labels
                await errors.error_response(refusal)(scope, receive, send_named)
        finally:
            route = getattr(scope.get("route"), "path", refused_at)
            metrics.HTTP_SECONDS.labels(
                method=scope["method"], route=route, status=str(status)
            ).observe(time.perf_counter() - started)

    def _refusal(
        self, method: str, path: str, headers: Headers
    ) -> ImageTooLargeError | OverloadedError | None:
        declared = headers.get("content-length", "")
        try:
            if declared.isdigit():
                limit = self.body_limits.get(path, self.max_image_bytes)
                check_upload_size(int(declared), limit, framing=MULTIPART_OVERHEAD)
            check = self.shed.get((method, path))
            if check is not None:
                check()
        except (ImageTooLargeError, OverloadedError) as refusal:
            return refusal
        return None
