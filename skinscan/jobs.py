"""Asynchronous analysis jobs as the SDK and the REST API show them.

The queue that runs them (Redis Streams, workers, retries) is the services'
business: skinscan_kit.job_queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from skinscan.analysis import Analysis

__all__ = ["JOB_WAIT_S", "Job", "JobStatus"]

# The longest the gateway holds a GetJob waiting for its job to finish: under
# load balancers' idle timeouts (60 s on AWS's), and short enough that a client
# learns of trouble quickly.
JOB_WAIT_S = 20.0


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED)


@dataclass(frozen=True)
class Job:
    id: str
    status: JobStatus
    attempts: int
    created_at: float
    updated_at: float
    result: Analysis | None = None
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "status": self.status.value,
            "attempts": self.attempts,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if self.result is not None:
            body["result"] = self.result.to_dict()
        if self.error:
            body["error"] = self.error
        return body
