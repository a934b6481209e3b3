"""The gateway's domain logic, shared by its gRPC and REST faces.

Uploads reach it already received within the size limit (skinscan_kit.uploads
for gRPC, gateway.rest for REST); decoding and its checks are the
preprocessor's.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Protocol

from gateway import metrics
from gateway.accounts.roles import Action, Principal
from gateway.surveillance.monitoring import count_result
from skinscan.analysis import Analysis
from skinscan.errors import InvalidRequestError, OverloadedError, UnavailableError
from skinscan.jobs import JOB_WAIT_S, Job
from skinscan_kit import deadline, request_id
from skinscan_kit.admission import Admission
from skinscan_kit.job_queue import Backlog, JobQueue

__all__ = ["AnalysisService", "Classifier", "ClinicDecision"]
# A waiting answer is sent this long before the caller's deadline, so it arrives.
_ANSWER_MARGIN_S = 0.25
# For this long after the job queue refused a job, the front doors refuse new jobs
# without asking Redis or reading the upload (see shed_job).
_JOB_REFUSAL_MEMORY_S = 0.5
# A reading of the job queue's backlog (two Redis round trips) is reused this long, with the
# jobs this gateway queued since added: each submission checks it twice (before and after
# its upload), which was the largest part of a job's CPU in the gateway (docs/serving-profile.md).
# Other gateways' submissions and the workers' progress show within this time; the bounds
# it enforces (2000 jobs, 300 s) are far coarser.
BACKLOG_FRESH_S = 0.25


class Classifier(Protocol):
    async def classify(self, data: bytes, filename: str, request_id: str) -> Analysis: ...


class ClinicDecision(Protocol):
    """Decides a result again at the caller's clinic's own threshold, where it adopted one
    (gateway.surveillance.thresholds)."""

    async def apply(self, clinic_id: str, analysis: Analysis) -> Analysis: ...


class AnalysisService:
    def __init__(
        self,
        classifier: Classifier,
        jobs: JobQueue | None,
        max_in_flight: int = 8,
        max_queued_jobs: int = 2000,
        max_job_wait_s: float = 0.0,  # 0: no bound by age
        max_waiting: int = 0,
        max_wait_s: float = 0.0,
        backlog_fresh_s: float = BACKLOG_FRESH_S,
        clinic_decision: ClinicDecision | None = None,
    ) -> None:
        self.classifier = classifier
        self.clinic_decision = clinic_decision
        self.jobs = jobs
        self.admission = Admission(
            max_in_flight,
            "analyses",
            metrics.ANALYSES_IN_FLIGHT,
            metrics.REFUSED_TOTAL.labels(reason="analyses"),
            max_waiting=max_waiting,
            max_wait_s=max_wait_s,
        )
        self.max_queued_jobs = max_queued_jobs
        self.max_job_wait_s = max_job_wait_s
        # The last refusal of a job by the queue's backlog, and when it was made.
        self._job_refusal: tuple[float, str, str] | None = None
        # The last backlog read from Redis, when, and the jobs queued here since.
        self._backlog_read: tuple[float, Backlog] | None = None
        self._queued_since_read = 0
        self._backlog_fresh_s = backlog_fresh_s

    async def analyze(self, by: Principal, data: bytes, filename: str) -> Analysis:
        by.require(Action.ANALYZE)
        async with self.admission.admit():
            # The id the caller sent, or the one the gateway made: it names the analysis.
            named = request_id.current() or request_id.begin()
            analysis = await self.classifier.classify(data, filename, named)
        count_result(by.clinic_id, analysis)
        return await self.for_clinic(by, analysis)

    async def for_clinic(self, by: Principal, analysis: Analysis) -> Analysis:
        """The result as the caller's clinic decides it (its own threshold, if adopted)."""
        if self.clinic_decision is None:
            return analysis
        return await self.clinic_decision.apply(by.clinic_id, analysis)

    def _queue(self) -> JobQueue:
        if self.jobs is None:
            raise UnavailableError("asynchronous jobs are disabled: the gateway has no Redis")
        return self.jobs

    async def admit_job(self, by: Principal) -> None:
        """Refuses a new job now when the queue is full or too far behind: called by gRPC
        before the upload is streamed in, so a refusal costs next to nothing and reaches
        the caller at once (submit_job checks again, as the queue may have filled during
        the upload). Over REST the upload has been received before the route runs, so
        submit_job's check alone is made there."""
        by.require(Action.ANALYZE)
        await self._check_backlog(self._queue())

    async def submit_job(self, by: Principal, data: bytes, filename: str) -> Job:
        by.require(Action.ANALYZE)
        queue = self._queue()
        await self._check_backlog(queue)
        job = await queue.submit(data, filename, owner=by.clinic_id)
        self._queued_since_read += 1
        metrics.JOBS_SUBMITTED_TOTAL.inc()
        return job

    def shed_job(self) -> None:
        """Refuses a new job at once, before its credentials or upload are read, if the job
        queue refused one within the last half second: under overload a refused
        submission otherwise costs the gateway a credential check, a Redis read and (over
        REST) a multipart parse, about what an accepted one costs. The queue cannot have
        caught up much in half a second, and the caller is told to come back in 5 s."""
        refusal = self._job_refusal
        if refusal is not None and time.monotonic() - refusal[0] < _JOB_REFUSAL_MEMORY_S:
            raise self._refuse_job(refusal[1], refusal[2], remember=False)

    def _refuse_job(self, reason: str, why: str, remember: bool = True) -> OverloadedError:
        metrics.REFUSED_TOTAL.labels(reason=reason).inc()
        # Only a backlog reading that found room is reused: after a refusal (remembered at
        # the door for half a second) the next check asks Redis, so room shows at once.
        self._backlog_read = None
        if remember:
            self._job_refusal = (time.monotonic(), reason, why)
        return OverloadedError(why, 5.0)

    async def _backlog(self, queue: JobQueue) -> Backlog:
        now = time.monotonic()
        if self._backlog_read is not None and now - self._backlog_read[0] < self._backlog_fresh_s:
            read_at, backlog = self._backlog_read
            # The oldest waiting job has waited longer since; a job queued here since has
            # waited less than it (or, with none waiting then, only since the reading).
            waited_s = backlog.oldest_wait_s + (now - read_at) if backlog.oldest_wait_s else 0.0
            return Backlog(backlog.depth + self._queued_since_read, waited_s)
        counted = self._queued_since_read
        backlog = await queue.backlog()
        # Jobs queued during the read may be in it or not: counted again (the safe side).
        self._backlog_read = (time.monotonic(), backlog)
        self._queued_since_read -= counted
        return backlog

    async def _check_backlog(self, queue: JobQueue) -> None:
        backlog = await self._backlog(queue)
        if backlog.depth >= self.max_queued_jobs:
            raise self._refuse_job("job_queue", f"{self.max_queued_jobs} jobs or more waiting")
        if 0 < self.max_job_wait_s <= backlog.oldest_wait_s:
            raise self._refuse_job(
                "job_wait",
                f"queued jobs have waited {backlog.oldest_wait_s:.0f} s for a worker, "
                f"more than the {self.max_job_wait_s:g} s a new one may wait",
            )
        self._job_refusal = None

    async def get_job(self, by: Principal, job_id: str, wait_s: float = 0.0) -> Job:
        """A job of the caller's clinic; another clinic's job is refused. With `wait_s`, the
        answer waits for the job to finish that long at most (JOB_WAIT_S, and ends a
        little before the caller's deadline)."""
        by.require(Action.ANALYZE)
        if not 0 <= wait_s < float("inf"):
            raise InvalidRequestError(f"wait_s must be 0 or more seconds, not {wait_s}")
        wait_s = min(wait_s, deadline.timeout_s(JOB_WAIT_S) - _ANSWER_MARGIN_S)
        job = await self._queue().get(job_id, owner=by.clinic_id, wait_s=wait_s)
        if job.result is None:
            return job
        # Decided when it is read, at the threshold in force then, as a synchronous one.
        return replace(job, result=await self.for_clinic(by, job.result))
