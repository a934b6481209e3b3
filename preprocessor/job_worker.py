"""Works queued jobs: claim from the Redis stream, classify, store the outcome, acknowledge.

A worker claims up to `batch_jobs` waiting jobs at once and classifies them together
(one decoding hand-off, one inference batch), as a call of several images does: a
backlog drains at a fraction of the cost per image of one job at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from redis.exceptions import RedisError

from preprocessor import metrics
from skinscan.analysis import Analysis
from skinscan.errors import InvalidRequestError, RateLimitedError, UnavailableError
from skinscan_kit import request_id
from skinscan_kit.job_queue import JobLease, JobQueue
from skinscan_pipeline.pipeline import ImagePipeline

__all__ = ["JobWorker"]

log = logging.getLogger(__name__)

# How often a worker that gave way to synchronous callers looks again.
_YIELD_S = 0.02


class JobWorker:
    def __init__(
        self,
        queue: JobQueue,
        pipeline: ImagePipeline,
        consumer: str,
        block_ms: int = 1000,
        busy: Callable[[], bool] = lambda: False,
        batch_jobs: int = 8,
    ) -> None:
        self.queue = queue
        self.pipeline = pipeline
        self.consumer = consumer
        self.block_ms = block_ms
        self.batch_jobs = batch_jobs
        # True while synchronous callers are being served: a job is taken only when they
        # are not, so queued work uses spare capacity instead of taking it from people
        # waiting on an answer (measured: at 3x load on every path, jobs starved them).
        self._busy = busy
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Stops claiming; the job in hand still finishes."""
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            if self._busy():
                await asyncio.sleep(_YIELD_S)
                continue
            try:
                leases = await self.queue.claim_many(self.consumer, self.batch_jobs, self.block_ms)
                metrics.JOB_QUEUE_DEPTH.set(await self.queue.depth())
            except Exception as error:
                # The loop must outlive any one failure, or jobs would pile up unseen.
                if isinstance(error, RedisError | OSError | UnavailableError):
                    log.warning("job queue unreachable (%s); retrying in 1 s", error)
                else:
                    log.exception("job worker error; retrying in 1 s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 1.0)
                continue
            if leases:
                await self.process(leases)

    def _begin(self, lease: JobLease) -> None:
        # The job id only: a file name can carry a patient's name, and logs are kept.
        # It is also the request id of every log line and call about the job.
        request_id.begin(lease.job_id)
        log.info("job %s attempt %d", lease.job_id, lease.attempt)
        if lease.attempt == 1:
            metrics.JOB_WAIT_SECONDS.observe(max(0.0, time.time() - lease.queued_at))

    async def process(self, leases: list[JobLease]) -> None:
        """Jobs classified together (one or several); each is settled on its own."""
        for lease in leases:
            self._begin(lease)
        # The calls for several jobs carry the first one's id.
        request_id.begin(leases[0].job_id)
        pending = leases
        while pending:
            try:
                outcomes: list[Analysis | BaseException] = list(
                    await self.pipeline.classify_batch([(x.image, x.job_id) for x in pending])
                )
            except Exception as error:  # the loop must outlive it; each job is retried
                log.exception("classifying %d jobs failed", len(pending))
                outcomes = [error] * len(pending)
            deferred = []
            for lease, outcome in zip(pending, outcomes, strict=True):
                if isinstance(outcome, RateLimitedError) and not self._stopping.is_set():
                    deferred.append((lease, outcome.retry_after_s))
                else:
                    await self._settle(lease, outcome)
            if deferred:
                # Inference is at capacity (synchronous callers come first): these jobs
                # wait their turn here; that is not a failed attempt.
                metrics.JOBS_TOTAL.labels(outcome="deferred").inc(len(deferred))
                await asyncio.sleep(min(max(wait for _, wait in deferred), 1.0))
            pending = [lease for lease, _ in deferred]

    async def _settle(self, lease: JobLease, outcome: Analysis | BaseException) -> None:
        if isinstance(outcome, InvalidRequestError):
            # The image itself is bad: no retry can help.
            metrics.JOBS_TOTAL.labels(outcome="rejected").inc()
            await self.queue.fail(lease, str(outcome))
        elif isinstance(outcome, BaseException):
            metrics.JOBS_TOTAL.labels(outcome="retried").inc()
            log.warning(
                "job %s attempt %d failed, will be retried: %s",
                lease.job_id,
                lease.attempt,
                outcome,
            )
            await self.queue.release(lease, str(outcome))
        else:
            metrics.JOBS_TOTAL.labels(outcome="succeeded").inc()
            await self.queue.complete(lease, outcome)
