"""Waiting for a service by its health events: through not-listening-yet and NOT_SERVING, to SERVING."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from prometheus_client import CollectorRegistry, Histogram

from skinscan_kit.grpc_server import GrpcServer
from skinscan_kit.readiness import wait_until_serving
from tests.conftest import free_port

pytestmark = pytest.mark.integration

RPC_SECONDS = Histogram(
    "readiness_test_rpc_seconds",
    "RPCs of the test server.",
    ["method", "code"],
    registry=CollectorRegistry(),
)


def test_waiting_ends_at_serving_and_leaves_no_stream_open() -> None:
    port = free_port()

    async def scenario() -> None:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            waiting = asyncio.create_task(wait_until_serving(channel, "the test server"))
            await asyncio.sleep(0.3)
            assert not waiting.done(), "nothing listens yet"
            server = GrpcServer(RPC_SECONDS)
            await server.start("127.0.0.1", port)  # listening, NOT_SERVING
            await asyncio.sleep(0.3)
            assert not waiting.done(), "NOT_SERVING is not ready"
            await server.set_serving()
            await asyncio.wait_for(waiting, 5)
            # The Watch stream was cancelled when SERVING came: stopping takes no grace period.
            started = time.monotonic()
            await server.stop(grace_s=10)
            assert time.monotonic() - started < 2

    asyncio.run(scenario())
