"""Long polling on a real Redis: a GetJob that waits is answered as its job finishes."""

from __future__ import annotations

import asyncio
import time

import pytest

from skinscan import Analysis, Finding, ModelRef, Severity
from skinscan.errors import PermissionDeniedError
from skinscan.jobs import JobStatus
from skinscan_kit.job_queue import JobQueue
from tests.job_queues import run_with_queue


def _analysis() -> Analysis:
    return Analysis(
        request_id="r",
        model=ModelRef("skinscan-resnet50", "1"),
        assessable=False,
        findings=(Finding("too_dark", Severity.REFUSAL, "black", 1.0),),
    )


def test_a_waiting_get_is_answered_as_the_job_finishes(redis_url: str) -> None:
    async def scenario(queue: JobQueue) -> None:
        job = await queue.submit(b"image", "a.jpg", owner="clinic")
        lease = await queue.claim("worker", block_ms=1000)
        assert lease is not None and lease.job_id == job.id
        started = time.monotonic()
        waiting = asyncio.create_task(queue.get(job.id, owner="clinic", wait_s=10))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # held while the job runs
        await queue.complete(lease, _analysis())
        answered = await waiting
        took = time.monotonic() - started
        assert answered.status is JobStatus.SUCCEEDED and answered.result is not None
        # Woken by the completion, not by the next once-a-second check.
        assert took < 0.3 + 0.5, took

    run_with_queue(redis_url, scenario)


def test_an_unfinished_job_is_answered_as_it_stands_after_the_wait(redis_url: str) -> None:
    async def scenario(queue: JobQueue) -> None:
        job = await queue.submit(b"image", owner="clinic")
        started = time.monotonic()
        answered = await queue.get(job.id, owner="clinic", wait_s=0.4)
        assert answered.status is JobStatus.QUEUED
        assert 0.4 <= time.monotonic() - started < 2.0
        # Another clinic is refused at once, waiting or not.
        with pytest.raises(PermissionDeniedError):
            await queue.get(job.id, owner="another", wait_s=5)

    run_with_queue(redis_url, scenario)


def test_many_waiters_of_many_jobs_each_hear_of_their_own(redis_url: str) -> None:
    async def scenario(queue: JobQueue) -> None:
        jobs = [await queue.submit(b"image", owner="clinic") for _ in range(5)]
        leases = [await queue.claim("worker", block_ms=1000) for _ in jobs]
        waits = {
            job.id: [
                asyncio.create_task(queue.get(job.id, owner="clinic", wait_s=10)) for _ in range(3)
            ]
            for job in jobs
        }
        await asyncio.sleep(0.2)
        first = next(lease for lease in leases if lease and lease.job_id == jobs[0].id)
        await queue.fail(first, "not an image")
        done = await asyncio.gather(*waits[jobs[0].id])
        assert all(job.status is JobStatus.FAILED for job in done)
        # The others still wait: finishing one job woke no one else.
        assert not any(task.done() for job in jobs[1:] for task in waits[job.id])
        for lease in leases:
            if lease is not first and lease is not None:
                await queue.complete(lease, _analysis())
        rest = await asyncio.gather(*(t for job in jobs[1:] for t in waits[job.id]))
        assert all(job.status is JobStatus.SUCCEEDED for job in rest)

    run_with_queue(redis_url, scenario)


def test_shutting_down_answers_every_waiter_at_once(redis_url: str) -> None:
    async def scenario(queue: JobQueue) -> None:
        job = await queue.submit(b"image", owner="clinic")
        waiting = [
            asyncio.create_task(queue.get(job.id, owner="clinic", wait_s=15)) for _ in range(3)
        ]
        await asyncio.sleep(0.2)
        started = time.monotonic()
        queue.stop_waiting()
        answered = await asyncio.gather(*waiting)
        assert all(job.status is JobStatus.QUEUED for job in answered)
        assert time.monotonic() - started < 0.5
        # And a wait asked for while stopping is not held either.
        assert (await queue.get(job.id, owner="clinic", wait_s=15)).status is JobStatus.QUEUED

    run_with_queue(redis_url, scenario)


def test_a_job_that_finished_before_the_subscription_was_live_is_read_again_then(
    redis_url: str,
) -> None:
    """Nothing is published here: the waiter learns of the finished job because the
    subscription's confirmation makes every waiter read its job once more, long before
    the last-resort re-read."""
    from redis import asyncio as aioredis

    from skinscan.jobs import Job
    from skinscan_kit.job_completions import JobCompletions

    async def run() -> None:
        redis = aioredis.from_url(redis_url)
        completions = JobCompletions(redis, recheck_s=30)
        reads: list[float] = []

        async def read() -> Job:
            reads.append(time.monotonic())
            status = JobStatus.RUNNING if len(reads) == 1 else JobStatus.SUCCEEDED
            return Job("j", status, 1, 0.0, 0.0)

        try:
            started = time.monotonic()
            job = await completions.wait("j", read, wait_s=20)
            assert job.status is JobStatus.SUCCEEDED and len(reads) == 2
            assert time.monotonic() - started < 5
        finally:
            await completions.close()
            await redis.aclose()

    asyncio.run(run())
