"""Load shedding at the gRPC front door: when the gateway's analyses are at their limit, or
the job queue has just refused a job, an Analyze or SubmitJob call is refused before its
credentials are checked (a Redis round trip for the rate limit) or its upload is read.
Under 3x overload those refusals were most of the gateway's work. The place itself is
taken later, in AnalysisService, which refuses too if the last place went in between."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import grpc

__all__ = ["SheddingInterceptor"]


class SheddingInterceptor(grpc.aio.ServerInterceptor):
    """`checks`: for a method's full name, a check that raises OverloadedError (mapped to
    RESOURCE_EXHAUSTED with Retry-After by the service interceptor outside) when a call of
    it would be refused anyway."""

    def __init__(self, checks: Mapping[str, Callable[[], None]]) -> None:
        self._checks = dict(checks)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        check = self._checks.get(details.method)
        if handler is None or check is None:
            return handler
        # AnalyzeImage is unary, Analyze and SubmitJob client streams: either way the
        # behaviour takes (request or its iterator, context) and returns one answer.
        behaviour = handler.unary_unary or handler.stream_unary
        if behaviour is None:
            return handler

        async def shed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            check()
            return await behaviour(request, context)

        wrap = (
            grpc.unary_unary_rpc_method_handler
            if handler.unary_unary
            else grpc.stream_unary_rpc_method_handler
        )
        return wrap(
            shed,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
