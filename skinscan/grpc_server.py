"""What every skinscan gRPC server shares: interceptors, health, reflection, shutdown.

Health starts NOT_SERVING and turns SERVING only when the service says it is
ready (model loaded and warmed, Redis reachable), so Kubernetes' native gRPC
probes and our own `skinscan up` wait on the real thing.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import Histogram

from skinscan.errors import SkinscanError
from skinscan.grpc_errors import status_for

__all__ = ["GrpcServer", "ServiceInterceptor", "wait_for_signal"]

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
        # Streaming responses (health Watch, reflection) are neither timed nor mapped.
        return handler

    def _wrap(self, behaviour: Callable[..., Any], method: str) -> Callable[..., Any]:
        async def timed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            start = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                return await behaviour(request, context)
            except SkinscanError as error:
                code = status_for(error)
                await context.abort(code, str(error))
            except asyncio.CancelledError:
                code = grpc.StatusCode.CANCELLED
                raise
            except grpc.aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            except Exception:
                code = grpc.StatusCode.INTERNAL
                log.exception("unhandled error in %s", method)
                await context.abort(code, f"internal error in {method}; the server log has details")
            finally:
                self._rpc_seconds.labels(method=method, code=code.name).observe(
                    time.perf_counter() - start
                )

        return timed


class GrpcServer:
    """A grpc.aio server with standard health and reflection."""

    def __init__(
        self,
        rpc_seconds: Histogram,
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        self.server = grpc.aio.server(
            interceptors=[ServiceInterceptor(rpc_seconds)], options=options
        )
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self._services: list[str] = []

    def add_service(self, full_name: str) -> None:
        """Records a registered service for health and reflection."""
        self._services.append(full_name)

    async def start(self, host: str, port: int) -> int:
        names = [*self._services, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name]
        reflection.enable_server_reflection([*names, reflection.SERVICE_NAME], self.server)
        bound = self.server.add_insecure_port(f"{host}:{port}")
        if bound == 0:
            raise OSError(f"cannot listen on {host}:{port}")
        await self._set_all(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.start()
        return bound

    async def set_serving(self) -> None:
        await self._set_all(health_pb2.HealthCheckResponse.SERVING)

    async def _set_all(self, status: int) -> None:
        for name in ("", *self._services):
            await self.health.set(name, status)

    async def stop(self, grace_s: float) -> None:
        """Stops taking new RPCs, lets in-flight ones finish for up to `grace_s`."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_s)


async def wait_for_signal() -> signal.Signals:
    """Returns when SIGTERM or SIGINT arrives."""
    loop = asyncio.get_running_loop()
    received: asyncio.Future[signal.Signals] = loop.create_future()

    def deliver(sig: signal.Signals) -> None:
        if not received.done():
            received.set_result(sig)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, deliver, sig)
    sig = await received
    log.info("received %s, shutting down", sig.name)
    return sig
