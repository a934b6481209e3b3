"""Readiness and liveness as Kubernetes' gRPC probes ask them, on a real server."""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CollectorRegistry, Histogram

from skinscan_kit.grpc_server import LIVENESS, GrpcServer

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def test_a_loading_service_is_alive_but_not_ready() -> None:
    async def scenario() -> list[tuple[int, int]]:
        seconds = Histogram("rpc_seconds", "", ["method", "code"], registry=CollectorRegistry())
        server = GrpcServer(seconds)
        port = await server.start("127.0.0.1", 0)
        seen = []
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = health_pb2_grpc.HealthStub(channel)

                async def statuses() -> tuple[int, int]:
                    ready = await stub.Check(health_pb2.HealthCheckRequest(service=""))
                    alive = await stub.Check(health_pb2.HealthCheckRequest(service=LIVENESS))
                    return ready.status, alive.status

                seen.append(await statuses())  # listening, model still loading
                await server.set_serving()
                seen.append(await statuses())
        finally:
            await server.stop(1)
        return seen

    assert asyncio.run(scenario()) == [(NOT_SERVING, SERVING), (SERVING, SERVING)]
