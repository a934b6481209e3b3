"""Results survive the trip through the public protobuf messages and the REST body unchanged."""

from __future__ import annotations

from skinscan import DISCLAIMER, Analysis, Job, JobStatus, ModelRef
from skinscan.proto_convert import (
    analysis_from_proto,
    analysis_to_proto,
    job_from_proto,
    job_to_proto,
)

ANALYSIS = Analysis(
    request_id="r-1",
    label="malignant",
    probabilities={"benign": 0.25, "malignant": 0.75},
    confidence=0.75,
    model=ModelRef("skinscan-resnet50", "2"),
    decision_threshold=0.524,
)


def test_an_analysis_round_trips_through_proto_and_json() -> None:
    assert analysis_from_proto(analysis_to_proto(ANALYSIS)) == ANALYSIS
    assert Analysis.from_dict(ANALYSIS.to_dict()) == ANALYSIS
    assert ANALYSIS.to_dict()["disclaimer"] == DISCLAIMER


def test_jobs_round_trip_in_every_status() -> None:
    for status in JobStatus:
        job = Job(
            id="j-1",
            status=status,
            attempts=2,
            created_at=1_700_000_000.25,
            updated_at=1_700_000_001.5,
            result=ANALYSIS if status is JobStatus.SUCCEEDED else None,
            error="the image is corrupt" if status is JobStatus.FAILED else "",
        )
        assert job_from_proto(job_to_proto(job)) == job
        assert job.status.finished == (status in (JobStatus.SUCCEEDED, JobStatus.FAILED))
