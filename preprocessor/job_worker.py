"""Works queued jobs: claim from the Redis stream, classify, store the outcome, acknowledge."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from redis.exceptions import RedisError

from preprocessor import metrics
from preprocessor.pipeline import ImagePipeline
from skinscan.analysis import Analysis
from skinscan.errors import InvalidRequestError, RateLimitedError, UnavailableError
from skinscan_kit import request_id
from skinscan_kit.job_queue import JobLease, JobQueue

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
    ) -> None:
        self.queue = queue
        self.pipeline = pipeline
        self.consumer = consumer
        self.block_ms = block_ms
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
                lease = await self.queue.claim(self.consumer, self.block_ms)
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
            if lease is not None:
                await self.process(lease)

    async def _classify(self, lease: JobLease) -> Analysis:
        while True:
            try:
                return await self.pipeline.classify(lease.image, request_id=lease.job_id)
            except RateLimitedError as error:
                # Inference is at capacity (synchronous callers come first): the job
                # waits its turn here; that is not a failed attempt.
                if self._stopping.is_set():
                    raise
                metrics.JOBS_TOTAL.labels(outcome="deferred").inc()
                await asyncio.sleep(min(error.retry_after_s, 1.0))

    async def process(self, lease: JobLease) -> None:
        # The job id only: a file name can carry a patient's name, and logs are kept.
        # It is also the request id of every log line and call about the job.
        request_id.begin(lease.job_id)
        log.info("job %s attempt %d", lease.job_id, lease.attempt)
        if lease.attempt == 1:
            metrics.JOB_WAIT_SECONDS.observe(max(0.0, time.time() - lease.queued_at))
        try:
            analysis = await self._classify(lease)
        except InvalidRequestError as error:
            # The image itself is bad: no retry can help.
            metrics.JOBS_TOTAL.labels(outcome="rejected").inc()
            await self.queue.fail(lease, str(error))
        except Exception as error:
            metrics.JOBS_TOTAL.labels(outcome="retried").inc()
            log.warning(
                "job %s attempt %d failed, will be retried: %s", lease.job_id, lease.attempt, error
            )
            await self.queue.release(lease, str(error))
        else:
            metrics.JOBS_TOTAL.labels(outcome="succeeded").inc()
            await self.queue.complete(lease, analysis)
