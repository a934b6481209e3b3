"""Load shedding at the gRPC front door: when the gateway's analyses are at their limit, an
Analyze call is refused before its credentials are checked (a Redis round trip for the rate
limit) or its upload is read. Under 3x overload those refusals were most of the gateway's
work. The place itself is taken later, in AnalysisService.analyze, which refuses too if the
last place went in between."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from skinscan_kit.admission import Admission

__all__ = ["SheddingInterceptor"]


class SheddingInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, admission: Admission, methods: frozenset[str]) -> None:
        self._admission = admission
        self._methods = methods

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or details.method not in self._methods or not handler.stream_unary:
            return handler
        behaviour = handler.stream_unary
        admission = self._admission

        async def shed(request_iterator: Any, context: grpc.aio.ServicerContext) -> Any:
            # OverloadedError: the service interceptor outside maps it to
            # RESOURCE_EXHAUSTED with Retry-After.
            admission.check()
            return await behaviour(request_iterator, context)

        return grpc.stream_unary_rpc_method_handler(
            shed,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
