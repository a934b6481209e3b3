"""Callers that go away mid-upload: the gateway lets go of everything they held."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from skinscan import Client
from skinscan.streaming import image_upload
from skinscan.v1 import analysis_service_pb2, analysis_service_pb2_grpc
from tests.conftest import TEST_MODEL_NAME
from tests.processes import SkinscanUp

pytestmark = pytest.mark.e2e

DISCONNECTS = 200


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _gauge(port: str, name: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        if family.name == name:
            return sum(sample.value for sample in family.samples)
    raise AssertionError(f"no {name}")


def test_callers_that_vanish_mid_upload_leave_nothing_held(
    model_repository: Path, tmp_path: Path, malignant_jpeg: Path
) -> None:
    (tmp_path / "tmp").mkdir()
    up = SkinscanUp.first_start(
        model_repository,
        TEST_MODEL_NAME,
        None,
        tmp_path / "state",
        TMPDIR=str(tmp_path / "tmp"),
        # Few malloc arenas, so RSS follows what is held, not how threads spread it.
        MALLOC_ARENA_MAX="2",
        # What is measured is memory, not the per-caller rate limit, which a fast host reached
        # (2 x 200 calls of one key within a minute: RESOURCE_EXHAUSTED mid-upload).
        SKINSCAN_GATEWAY_RATE_LIMIT_PER_MINUTE="100000000",
        SKINSCAN_GATEWAY_RATE_LIMIT_BURST="1000000",
    )
    up.start(timeout_s=120)
    try:
        with Client(up.grpc_target) as admin:
            admin.login("admin", up.admin_password)
            _, key = admin.create_api_key("disconnects", "clinician")
        # A large upload (about 3 MB, many chunks), so each caller goes mid-stream.
        noise = np.random.default_rng(1).integers(0, 256, (1500, 1500, 3), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(noise).save(buffer, "JPEG", quality=95)
        messages = image_upload(analysis_service_pb2.AnalyzeRequest, buffer.getvalue(), "big.jpg")
        assert len(messages) >= 3
        gateway = up.children()["gateway"]
        metrics_port = up.env["SKINSCAN_GATEWAY_METRICS_PORT"]
        auth = (("authorization", f"Bearer {key}"),)

        async def vanish(stub: analysis_service_pb2_grpc.AnalysisServiceStub) -> None:
            call = stub.Analyze(metadata=auth, timeout=30)
            await call.write(messages[0])
            await call.write(messages[1])  # part of the image; the caller then goes away
            call.cancel()
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                await call

        async def vanishing(times: int) -> None:
            async with grpc.aio.insecure_channel(up.grpc_target) as channel:
                stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
                for _ in range(times):
                    await vanish(stub)

        # Warm-up as long as the measured run: the allocator's arenas grow towards a plateau
        # (measured: +45 MB over the first 200, then 0 to +50 MB over the next 200).
        asyncio.run(vanishing(DISCONNECTS))
        time.sleep(2)
        before = _rss_kib(gateway)
        asyncio.run(vanishing(DISCONNECTS))
        time.sleep(2)
        after = _rss_kib(gateway)
        # Every admission slot was given back, and the gateway still answers.
        assert _gauge(metrics_port, "skinscan_gateway_analyses_in_flight") == 0
        with Client(up.grpc_target, api_key=key) as client:
            assert client.analyze(malignant_jpeg).assessable
        growth = after - before
        print(f"gateway RSS {before} -> {after} KiB after {DISCONNECTS} vanished uploads")
        # Holding on to what each vanished caller sent (1 MB or more) would add 200 MB or more.
        assert growth < 100 * 1024, f"gateway RSS grew {growth} KiB over {DISCONNECTS} disconnects"
        assert list((tmp_path / "tmp").iterdir()) == []
    finally:
        up.stop()
