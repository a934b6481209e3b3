"""The gateway's domain logic, shared by its gRPC and REST faces.

Uploads reach it already received within the size limit (skinscan_kit.uploads
for gRPC, gateway.rest for REST); decoding and its checks are the
preprocessor's.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from gateway import metrics
from skinscan.analysis import Analysis
from skinscan.errors import UnavailableError
from skinscan.jobs import Job
from skinscan_kit.job_queue import JobQueue

__all__ = ["AnalysisService", "Classifier"]


class Classifier(Protocol):
    async def classify(self, data: bytes, filename: str, request_id: str) -> Analysis: ...


class AnalysisService:
    def __init__(self, classifier: Classifier, jobs: JobQueue | None) -> None:
        self.classifier = classifier
        self.jobs = jobs

    async def analyze(self, data: bytes, filename: str) -> Analysis:
        return await self.classifier.classify(data, filename, uuid.uuid4().hex)

    def _queue(self) -> JobQueue:
        if self.jobs is None:
            raise UnavailableError("asynchronous jobs are disabled: the gateway has no Redis")
        return self.jobs

    async def submit_job(self, data: bytes, filename: str) -> Job:
        job = await self._queue().submit(data, filename)
        metrics.JOBS_SUBMITTED_TOTAL.inc()
        return job

    async def get_job(self, job_id: str) -> Job:
        return await self._queue().get(job_id)
