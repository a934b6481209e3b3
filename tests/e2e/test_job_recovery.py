"""No job is lost: a worker killed mid-job, and a job that keeps failing."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import asyncio as aioredis

from inference.server import InferenceServer
from preprocessor.job_worker import JobWorker
from skinscan.jobs import JobStatus
from skinscan_kit.job_queue import JobQueue
from skinscan_model.preprocessing import ImageLimits
from skinscan_pipeline.inference_client import InferenceClient
from skinscan_pipeline.pipeline import ImagePipeline
from tests.conftest import TEST_MODEL_NAME, free_port, inference_settings
from tests.processes import Services

pytestmark = pytest.mark.e2e


@pytest.fixture
def services(model_repository: Path, redis_url: str) -> Iterator[Services]:
    env = {
        **os.environ,
        "SKINSCAN_MODEL_REPOSITORY": str(model_repository),
        "SKINSCAN_MODEL_NAME": TEST_MODEL_NAME,
        "SKINSCAN_REDIS_URL": redis_url,
        "SKINSCAN_INFERENCE_METRICS_PORT": "0",
        "SKINSCAN_PREPROCESSOR_METRICS_PORT": "0",
        "SKINSCAN_INFERENCE_INTRA_OP_THREADS": "1",
    }
    started = Services(env)
    yield started
    started.stop_all()


async def _job_state(redis_url: str, job_id: str):
    client = aioredis.from_url(redis_url)
    try:
        return await JobQueue(client).get(job_id)
    finally:
        await client.aclose()


async def _submit(redis_url: str, data: bytes):
    client = aioredis.from_url(redis_url)
    try:
        queue = JobQueue(client)
        await client.flushdb()
        await queue.ensure_group()
        return await queue.submit(data, "lesion.jpg")
    finally:
        await client.aclose()


def test_job_of_a_worker_killed_mid_job_is_completed_by_another(
    services: Services, redis_url: str, malignant_jpeg: Path
) -> None:
    frozen_port, live_port, first_port, second_port = (free_port() for _ in range(4))
    frozen_inference = services.start(
        "inference", frozen_port, SKINSCAN_INFERENCE_PORT=str(frozen_port)
    )
    first = services.start(
        "preprocessor",
        first_port,
        SKINSCAN_PREPROCESSOR_PORT=str(first_port),
        SKINSCAN_PREPROCESSOR_INFERENCE_TARGET=f"127.0.0.1:{frozen_port}",
        SKINSCAN_PREPROCESSOR_JOB_WORKERS="1",
        SKINSCAN_PREPROCESSOR_CONSUMER_NAME="first",
    )
    # Freeze the first worker's inference: its next job hangs in mid-analysis.
    frozen_inference.send_signal(signal.SIGSTOP)
    job = asyncio.run(_submit(redis_url, malignant_jpeg.read_bytes()))
    deadline = time.monotonic() + 30
    while (state := asyncio.run(_job_state(redis_url, job.id))).status is not JobStatus.RUNNING:
        assert time.monotonic() < deadline, f"the first worker never took the job: {state}"
        time.sleep(0.05)
    assert state.attempts == 1
    first.kill()  # SIGKILL: no chance to clean up or acknowledge
    first.wait()
    services.start("inference", live_port, SKINSCAN_INFERENCE_PORT=str(live_port))
    services.start(
        "preprocessor",
        second_port,
        SKINSCAN_PREPROCESSOR_PORT=str(second_port),
        SKINSCAN_PREPROCESSOR_INFERENCE_TARGET=f"127.0.0.1:{live_port}",
        SKINSCAN_PREPROCESSOR_JOB_WORKERS="1",
        SKINSCAN_PREPROCESSOR_CONSUMER_NAME="second",
        SKINSCAN_PREPROCESSOR_JOB_RECLAIM_IDLE_MS="1000",
    )
    deadline = time.monotonic() + 60
    while (state := asyncio.run(_job_state(redis_url, job.id))).status is not JobStatus.SUCCEEDED:
        assert state.status is not JobStatus.FAILED, state
        assert time.monotonic() < deadline, f"the job was never reclaimed: {state}"
        time.sleep(0.1)
    assert state.attempts == 2
    assert state.result is not None and state.result.request_id == job.id


def test_a_job_that_keeps_failing_ends_failed_with_its_reason(
    model_repository: Path, redis_url: str, malignant_jpeg: Path
) -> None:
    async def scenario() -> None:
        client = aioredis.from_url(redis_url)
        await client.flushdb()
        queue = JobQueue(client, max_attempts=2, reclaim_idle_ms=100)
        await queue.ensure_group()
        job = await queue.submit(malignant_jpeg.read_bytes(), "lesion.jpg")
        # A real inference client that learns the model from a real server, which then goes away.
        inference = InferenceServer(inference_settings(model_repository))
        await inference.start()
        backend = InferenceClient(f"127.0.0.1:{inference.port}", TEST_MODEL_NAME, timeout_s=2)
        await backend.wait_until_ready()
        await inference.stop()
        worker = JobWorker(queue, ImagePipeline(backend, ImageLimits()), "doomed", block_ms=100)
        running = asyncio.create_task(worker.run())
        try:
            async with asyncio.timeout(30):
                while (state := await queue.get(job.id)).status is not JobStatus.FAILED:
                    await asyncio.sleep(0.05)
        finally:
            worker.stop()
            await running
            await backend.close()
            await client.aclose()
        assert "gave up after 2 attempts" in state.error
        assert "inference" in state.error
        assert await queue.depth() == 0

    asyncio.run(scenario())


def test_job_workers_give_way_while_synchronous_callers_are_served(
    model_repository: Path, redis_url: str, malignant_jpeg: Path
) -> None:
    """Queued work waits while someone waits on an answer, then goes on; nothing is lost."""

    async def scenario() -> None:
        client = aioredis.from_url(redis_url)
        await client.flushdb()
        queue = JobQueue(client)
        await queue.ensure_group()
        job = await queue.submit(malignant_jpeg.read_bytes(), "lesion.jpg")
        inference = InferenceServer(inference_settings(model_repository))
        await inference.start()
        backend = InferenceClient(f"127.0.0.1:{inference.port}", TEST_MODEL_NAME, timeout_s=30)
        await backend.wait_until_ready()
        serving_someone = True
        worker = JobWorker(
            queue,
            ImagePipeline(backend, ImageLimits()),
            "polite",
            block_ms=100,
            busy=lambda: serving_someone,
        )
        running = asyncio.create_task(worker.run())
        try:
            await asyncio.sleep(1.0)
            assert (await queue.get(job.id)).status is JobStatus.QUEUED
            serving_someone = False
            async with asyncio.timeout(30):
                while (await queue.get(job.id)).status is not JobStatus.SUCCEEDED:
                    await asyncio.sleep(0.05)
        finally:
            worker.stop()
            await running
            await backend.close()
            await inference.stop()
            await client.aclose()

    asyncio.run(scenario())
