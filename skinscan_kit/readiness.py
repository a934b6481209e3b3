"""Waiting for another service to be ready, by its standard gRPC health events.

One Watch stream replaces sleep-and-poll loops: the server pushes its status
as it changes, and the call is cancelled as soon as SERVING arrives, so no
stream stays open to hold up the other side's graceful shutdown.
"""

from __future__ import annotations

import logging

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

__all__ = ["is_serving", "wait_until_serving"]

log = logging.getLogger(__name__)

SERVING = health_pb2.HealthCheckResponse.SERVING


async def wait_until_serving(channel: grpc.aio.Channel, what: str, service: str = "") -> None:
    """Returns once `service` (default: the whole server) behind `channel` reports SERVING.

    Waits through the server not listening yet (wait_for_ready) and through a
    restart (the stream ends; a new one waits for the reconnection). Cancel
    the caller to stop waiting.
    """
    stub = health_pb2_grpc.HealthStub(channel)
    while True:
        call = stub.Watch(health_pb2.HealthCheckRequest(service=service), wait_for_ready=True)
        try:
            async for update in call:
                if update.status == SERVING:
                    return
                log.info(
                    "waiting for %s: %s",
                    what,
                    health_pb2.HealthCheckResponse.ServingStatus.Name(update.status),
                )
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.UNAVAILABLE:
                raise
            log.info("waiting for %s: %s", what, error.details())
        finally:
            call.cancel()


async def is_serving(channel: grpc.aio.Channel, timeout_s: float) -> bool:
    """Whether the server behind `channel` reports SERVING on standard gRPC health now."""
    try:
        answer = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=timeout_s
        )
    except grpc.aio.AioRpcError:
        return False
    return bool(answer.status == SERVING)
