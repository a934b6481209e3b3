"""The job queue's backlog on a real Redis, and the gateway refusing new jobs by it."""

from __future__ import annotations

import asyncio

import pytest

from gateway.accounts.roles import Principal, Role
from gateway.analysis_service import AnalysisService
from skinscan.analysis import Analysis
from skinscan.errors import OverloadedError
from skinscan_kit.job_queue import Backlog, JobQueue
from tests.job_queues import run_with_queue

CLINICIAN = Principal("api_key", "0" * 32, "clinic", Role.CLINICIAN, "tests")


class _NoClassifier:
    async def classify(self, data: bytes, filename: str, request_id: str) -> Analysis:
        raise AssertionError("jobs are only queued here")


@pytest.mark.parametrize("group", [True, False], ids=["workers", "no-worker-yet"])
def test_the_backlog_is_the_wait_of_the_oldest_job_no_worker_has_taken(
    redis_url: str, group: bool
) -> None:
    async def scenario(queue: JobQueue) -> None:
        empty = await queue.backlog()
        assert (empty.depth, empty.oldest_wait_s) == (0, 0.0)
        await queue.submit(b"first", "a.jpg")
        await asyncio.sleep(0.4)
        await queue.submit(b"second", "b.jpg")
        backlog = await queue.backlog()
        assert backlog.depth == 2
        assert 0.4 <= backlog.oldest_wait_s < 5, backlog
        if not group:
            return
        # A worker takes the first: the second is now the oldest waiting, and still counts.
        lease = await queue.claim("worker", block_ms=100)
        assert lease is not None and lease.image == b"first"
        backlog = await queue.backlog()
        assert backlog.depth == 2
        assert backlog.oldest_wait_s < 0.4, backlog
        second = await queue.claim("worker", block_ms=100)
        assert second is not None
        backlog = await queue.backlog()
        assert (backlog.depth, backlog.oldest_wait_s) == (2, 0.0)  # both running, none waits
        await queue.fail(lease, "bad")
        await queue.fail(second, "bad")
        assert (await queue.backlog()).depth == 0

    run_with_queue(redis_url, scenario, group)


def test_new_jobs_are_refused_while_the_oldest_waiting_one_is_past_the_bound(
    redis_url: str,
) -> None:
    async def scenario(queue: JobQueue) -> None:
        service = AnalysisService(_NoClassifier(), queue, max_queued_jobs=100, max_job_wait_s=0.5)
        await service.submit_job(CLINICIAN, b"first", "a.jpg")
        await service.submit_job(CLINICIAN, b"second", "b.jpg")  # within the bound
        await asyncio.sleep(0.6)
        with pytest.raises(
            OverloadedError, match=r"waited \d+ s for a worker, more than the 0.5 s"
        ):
            await service.submit_job(CLINICIAN, b"third", "c.jpg")
        # Once workers have taken what waited, new jobs are accepted again.
        for _ in range(2):
            assert await queue.claim("worker", block_ms=100) is not None
        job = await service.submit_job(CLINICIAN, b"fourth", "d.jpg")
        assert job.status.value == "queued"

    run_with_queue(redis_url, scenario)


def test_without_a_bound_by_age_only_the_count_refuses(redis_url: str) -> None:
    async def scenario(queue: JobQueue) -> None:
        service = AnalysisService(_NoClassifier(), queue, max_queued_jobs=2, max_job_wait_s=0)
        await service.submit_job(CLINICIAN, b"first", "a.jpg")
        await asyncio.sleep(0.3)
        await service.submit_job(CLINICIAN, b"second", "b.jpg")
        with pytest.raises(OverloadedError, match=r"2 jobs or more waiting"):
            await service.submit_job(CLINICIAN, b"third", "c.jpg")

    run_with_queue(redis_url, scenario)


def test_for_half_a_second_after_a_refusal_new_jobs_are_refused_without_asking_redis(
    redis_url: str,
) -> None:
    async def scenario(queue: JobQueue) -> None:
        service = AnalysisService(_NoClassifier(), queue, max_queued_jobs=1, max_job_wait_s=0)
        service.shed_job()  # nothing refused yet: the front door lets it in
        await service.submit_job(CLINICIAN, b"first", "a.jpg")
        with pytest.raises(OverloadedError, match="1 jobs or more waiting"):
            await service.submit_job(CLINICIAN, b"second", "b.jpg")
        # Remembered: the front doors refuse at once, with the same reason.
        with pytest.raises(OverloadedError, match="1 jobs or more waiting") as shed:
            service.shed_job()
        assert shed.value.retry_after_s == 5.0
        # A worker takes the job and finishes it; the memory runs out, and new jobs go in.
        lease = await queue.claim("worker", block_ms=100)
        assert lease is not None
        await queue.fail(lease, "done with it")
        await asyncio.sleep(0.55)
        service.shed_job()
        assert (await service.submit_job(CLINICIAN, b"third", "c.jpg")).status.value == "queued"
        # A check that finds room clears the memory at once, before its half second is up.
        with pytest.raises(OverloadedError):
            await service.submit_job(CLINICIAN, b"fourth", "d.jpg")
        lease = await queue.claim("worker", block_ms=100)
        assert lease is not None
        await queue.fail(lease, "done with it")
        await service.admit_job(CLINICIAN)
        service.shed_job()

    run_with_queue(redis_url, scenario)


def test_a_worker_claims_several_waiting_jobs_at_once_stale_ones_first(redis_url: str) -> None:
    async def scenario(queue: JobQueue) -> None:
        for i in range(5):
            await queue.submit(f"image {i}".encode(), f"{i}.jpg")
        first = await queue.claim_many("worker", 3, block_ms=100)
        assert [lease.image for lease in first] == [b"image 0", b"image 1", b"image 2"]
        rest = await queue.claim_many("worker", 3, block_ms=100)
        assert [lease.image for lease in rest] == [b"image 3", b"image 4"]
        assert await queue.claim_many("worker", 3, block_ms=50) == []
        # A worker that died holding jobs: another reclaims them, as many as it asks for.
        queue.reclaim_idle_ms = 1
        await asyncio.sleep(0.01)
        reclaimed = await queue.claim_many("other", 4, block_ms=50)
        assert len(reclaimed) == 4 and all(lease.attempt == 2 for lease in reclaimed)

    run_with_queue(redis_url, scenario)


def test_a_backlog_that_found_room_is_reused_for_a_moment_with_the_gateways_own_jobs_added(
    redis_url: str,
) -> None:
    """Two submissions in quick succession ask Redis for the backlog once, not four times;
    the jobs this gateway queued meanwhile still count, and a reading that refused is not
    reused."""

    async def scenario(queue: JobQueue) -> None:
        reads = 0
        read_backlog = queue.backlog

        async def counted() -> Backlog:
            nonlocal reads
            reads += 1
            return await read_backlog()

        queue.backlog = counted  # type: ignore[method-assign]
        service = AnalysisService(
            _NoClassifier(), queue, max_queued_jobs=3, max_job_wait_s=0, backlog_fresh_s=1.0
        )
        for name in ("a", "b"):
            await service.admit_job(CLINICIAN)
            await service.submit_job(CLINICIAN, name.encode(), f"{name}.jpg")
        assert reads == 1
        await service.submit_job(CLINICIAN, b"c", "c.jpg")
        # Three are queued, two of them since the reading: the fourth is refused unread.
        with pytest.raises(OverloadedError, match="3 jobs or more waiting"):
            await service.submit_job(CLINICIAN, b"d", "d.jpg")
        assert reads == 1
        # A worker finishes one: the next check reads again and finds the room at once.
        lease = await queue.claim("worker", block_ms=100)
        assert lease is not None
        await queue.fail(lease, "done with it")
        await service.admit_job(CLINICIAN)
        assert reads == 2
        # And once the reading is older than its freshness (0.25 s by default), it is read again.
        await asyncio.sleep(1.1)
        await service.admit_job(CLINICIAN)
        assert reads == 3

    run_with_queue(redis_url, scenario)
