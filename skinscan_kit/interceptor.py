"""The one server interceptor: times every RPC and maps domain errors to status codes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from prometheus_client import Histogram

from skinscan.errors import RateLimitedError, SkinscanError, UnavailableError
from skinscan.grpc_status import RETRY_AFTER_KEY, cause_code, status_for
from skinscan_kit import deadline, request_id

__all__ = ["ServiceInterceptor"]

log = logging.getLogger(__name__)


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """Times every RPC and maps domain errors to status codes, in one place."""

    def __init__(self, rpc_seconds: Histogram) -> None:
        self._rpc_seconds = rpc_seconds

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = details.method.rsplit("/", 1)[-1]
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap(handler.unary_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._wrap(handler.stream_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_stream:
            return grpc.stream_stream_rpc_method_handler(
                self._wrap_stream(handler.stream_stream, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        # Streams of answers to one request (health Watch) are neither timed nor mapped.
        return handler

    def _wrap(self, behaviour: Callable[..., Any], method: str) -> Callable[..., Any]:
        async def timed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            async with self._served(context, method):
                return await behaviour(request, context)

        return timed

    def _wrap_stream(self, behaviour: Callable[..., Any], method: str) -> Callable[..., Any]:
        async def timed(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            async with self._served(context, method):
                async for response in behaviour(request, context):
                    yield response

        return timed

    @contextlib.asynccontextmanager
    async def _served(self, context: grpc.aio.ServicerContext, method: str) -> AsyncIterator[None]:
        start = time.perf_counter()
        code = grpc.StatusCode.OK
        # Calls this one makes to other services inherit what is left of its deadline,
        # and the request's id (the caller's, or a new one), as every log line does.
        deadline.set_remaining(context.time_remaining())
        request_id.begin(_sent_request_id(context))
        try:
            yield
        except SkinscanError as error:
            code = status_for(error)
            if _caller_deadline_passed(error, context):
                # The next service was given what was left of this call's deadline and ran
                # out of it: the caller's deadline, not a failing service (the caller's own
                # clock may not have fired yet when this answer arrives).
                code = grpc.StatusCode.DEADLINE_EXCEEDED
                await _abort(context, code, "the deadline passed before the answer was ready")
                raise asyncio.CancelledError from error
            if isinstance(error, RateLimitedError | UnavailableError):
                seconds = str(max(1, math.ceil(error.retry_after_s)))
                context.set_trailing_metadata(((RETRY_AFTER_KEY, seconds),))
            await _abort(context, code, str(error))
            code = grpc.StatusCode.DEADLINE_EXCEEDED
            raise asyncio.CancelledError from error
        except asyncio.CancelledError:
            code = grpc.StatusCode.CANCELLED
            raise
        except grpc.aio.AbortError:
            code = context.code() or grpc.StatusCode.UNKNOWN
            raise
        except Exception:
            code = grpc.StatusCode.INTERNAL
            log.exception("unhandled error in %s", method)
            await _abort(context, code, f"internal error in {method}; the server log has details")
            raise asyncio.CancelledError from None
        finally:
            elapsed = time.perf_counter() - start
            self._rpc_seconds.labels(method=method, code=code.name).observe(elapsed)
            # Method, status and time only: metadata holds credentials.
            log.debug("%s %s in %.1f ms", method, code.name, elapsed * 1000)


async def _abort(context: grpc.aio.ServicerContext, code: grpc.StatusCode, details: str) -> None:
    """Ends the call with `code` (raises AbortError); returns only if the caller's deadline
    passed as the error was raised. Then no status can reach the caller: grpc's core fails
    to send one and logs a traceback at ERROR (seen when a call to the next service timed
    out with the caller's own deadline), so the caller ends the call as cancelled."""
    try:
        await context.abort(code, details)
    except grpc.aio.AbortError:
        raise
    except Exception:  # grpc's own (private) ExecuteBatchError
        remaining = context.time_remaining()
        if remaining is None or remaining > 0:
            raise


# A call to the next service whose deadline was this call's own ends within this margin of it.
_DEADLINE_MARGIN_S = 0.05


def _caller_deadline_passed(error: SkinscanError, context: grpc.aio.ServicerContext) -> bool:
    if cause_code(error) != grpc.StatusCode.DEADLINE_EXCEEDED:
        return False
    remaining = context.time_remaining()
    return remaining is not None and remaining < _DEADLINE_MARGIN_S


def _sent_request_id(context: grpc.aio.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == request_id.HEADER:
            return str(value)
    return None
