"""What every skinscan gRPC server shares: the interceptor, health, reflection, shutdown.

Health starts NOT_SERVING and turns SERVING only when the service says it is
ready (model loaded and warmed, Redis reachable), so Kubernetes' native gRPC
probes and our own `skinscan up` wait on the real thing. The `skinscan.liveness`
service says only that the process answers: SERVING from the moment it listens,
so a liveness probe does not restart a service that is loading its model or
waiting for a dependency.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import Histogram

from skinscan_kit.interceptor import ServiceInterceptor

__all__ = ["LIVENESS", "GrpcServer"]

LIVENESS = "skinscan.liveness"


class GrpcServer:
    """A grpc.aio server with standard health and reflection."""

    def __init__(
        self,
        rpc_seconds: Histogram,
        options: Sequence[tuple[str, Any]] = (),
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    ) -> None:
        # The service interceptor is outermost: it times and maps the errors
        # of every interceptor inside it (the gateway's credential check).
        self.server = grpc.aio.server(
            interceptors=[ServiceInterceptor(rpc_seconds), *interceptors], options=options
        )
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self._services: list[str] = []

    def add_service(self, full_name: str) -> None:
        """Records a registered service for health and reflection."""
        self._services.append(full_name)

    async def start(
        self, host: str, port: int, credentials: grpc.ServerCredentials | None = None
    ) -> int:
        """Listens on host:port, with TLS when `credentials` are given; returns the port."""
        names = [*self._services, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name]
        reflection.enable_server_reflection([*names, reflection.SERVICE_NAME], self.server)
        address = f"{host}:{port}"
        bound = (
            self.server.add_insecure_port(address)
            if credentials is None
            else self.server.add_secure_port(address, credentials)
        )
        if bound == 0:
            raise OSError(f"cannot listen on {host}:{port}")
        await self._set_all(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.health.set(LIVENESS, health_pb2.HealthCheckResponse.SERVING)
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
