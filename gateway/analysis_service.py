"""The gateway's domain logic, shared by its gRPC and REST faces."""

from __future__ import annotations

import uuid
from typing import Protocol

from gateway import metrics
from skinscan.analysis import Analysis
from skinscan.errors import ImageTooLargeError, InvalidImageError, UnavailableError
from skinscan.jobs import Job, JobQueue

__all__ = ["AnalysisService", "Classifier"]


class Classifier(Protocol):
    async def classify(self, data: bytes, filename: str, request_id: str) -> Analysis: ...


class AnalysisService:
    def __init__(self, classifier: Classifier, jobs: JobQueue | None, max_bytes: int) -> None:
        self.classifier = classifier
        self.jobs = jobs
        self.max_bytes = max_bytes

    def _check(self, data: bytes) -> None:
        if not data:
            raise InvalidImageError("the upload is empty: send a JPEG or PNG image")
        if len(data) > self.max_bytes:
            raise ImageTooLargeError(
                f"the upload has {len(data)} bytes, more than the limit of {self.max_bytes}"
            )

    async def analyze(self, data: bytes, filename: str) -> Analysis:
        self._check(data)
        return await self.classifier.classify(data, filename, uuid.uuid4().hex)

    def _queue(self) -> JobQueue:
        if self.jobs is None:
            raise UnavailableError("asynchronous jobs are disabled: the gateway has no Redis")
        return self.jobs

    async def submit_job(self, data: bytes, filename: str) -> Job:
        self._check(data)
        job = await self._queue().submit(data, filename)
        metrics.JOBS_SUBMITTED_TOTAL.inc()
        return job

    async def get_job(self, job_id: str) -> Job:
        return await self._queue().get(job_id)
