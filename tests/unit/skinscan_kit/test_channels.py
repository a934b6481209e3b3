"""Which load-balancing policy an internal channel gets, and that it really connects."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CollectorRegistry, Histogram

from skinscan_kit import tls
from skinscan_kit.grpc_server import GrpcServer


@pytest.mark.parametrize(
    ("target", "balanced"),
    [("dns:///preprocessor:50052", True), ("127.0.0.1:50052", False)],
)
def test_round_robin_only_over_a_name_of_many_replicas(
    target: str, balanced: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def capture(target: str, options: list[tuple[str, Any]]) -> None:
        seen.update(options)

    monkeypatch.setattr(tls.grpc.aio, "insecure_channel", capture)
    tls.aio_channel(target, None, [("grpc.max_receive_message_length", 1)])
    assert (seen.get("grpc.lb_policy_name") == "round_robin") is balanced
    assert seen["grpc.max_receive_message_length"] == 1


def test_a_dns_target_with_round_robin_reaches_the_server() -> None:
    async def scenario() -> int:
        seconds = Histogram("rpc_seconds", "", ["method", "code"], registry=CollectorRegistry())
        server = GrpcServer(seconds)
        port = await server.start("127.0.0.1", 0)
        await server.set_serving()
        try:
            async with tls.aio_channel(f"dns:///127.0.0.1:{port}", None) as channel:
                answer = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=10
                )
                return answer.status
        finally:
            await server.stop(1)

    assert asyncio.run(scenario()) == health_pb2.HealthCheckResponse.SERVING
