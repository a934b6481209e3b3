"""Results survive the trip through the public protobuf messages and the REST body unchanged."""

from __future__ import annotations

from skinscan import (
    DISCLAIMER,
    Analysis,
    CropBox,
    Diagnosis,
    Finding,
    HeatMap,
    Job,
    JobStatus,
    ModelRef,
    Severity,
)
from skinscan.proto_convert import (
    analysis_from_proto,
    analysis_to_proto,
    job_from_proto,
    job_to_proto,
)

ANALYSIS = Analysis(
    request_id="r-1",
    model=ModelRef("skinscan-resnet50", "2"),
    assessable=True,
    findings=(Finding("greyscale", Severity.WARNING, "the image has no colour", 1.0),),
    label="malignant",
    probabilities={"malignant": 0.75, "benign": 0.25},
    malignant_probability=0.75,
    decision_threshold=0.524,
    explanation="malignant probability 0.750, at or above the referral threshold 0.524: malignant",
    heatmap=HeatMap(b"\x89PNG not really", CropBox(37.5, 0.0, 225.0, 225.0)),
    diagnosis=Diagnosis("bcc", "Basal cell carcinoma", True, {"nv": 0.3, "bcc": 0.7}),
    threshold_basis="clinic threshold 0.524, adopted 2026-12-20 from 64 audit cases",
    target_sensitivity=0.9,
)
REFUSED = Analysis(
    request_id="r-2",
    model=ModelRef("skinscan-resnet50", "2"),
    assessable=False,
    findings=(Finding("too_dark", Severity.REFUSAL, "100% of the image is black", 1.0),),
)


def test_analyses_round_trip_through_proto_and_json() -> None:
    for analysis in (ANALYSIS, REFUSED):
        assert analysis_from_proto(analysis_to_proto(analysis)) == analysis
        assert Analysis.from_dict(analysis.to_dict()) == analysis
        assert analysis.to_dict()["disclaimer"] == DISCLAIMER
    # A stable order, whatever order the probabilities came in.
    assert list(ANALYSIS.to_dict()["probabilities"]) == ["benign", "malignant"]


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
