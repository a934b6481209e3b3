"""Domain objects <-> skinscan.v1 protobuf messages (no gRPC here)."""

from __future__ import annotations

import math

from google.protobuf.timestamp_pb2 import Timestamp

from skinscan.analysis import Analysis, CropBox, Diagnosis, Finding, HeatMap, ModelRef, Severity
from skinscan.jobs import Job, JobStatus
from skinscan.v1 import analysis_pb2 as pb

__all__ = ["analysis_from_proto", "analysis_to_proto", "job_from_proto", "job_to_proto"]

_STATUS_TO_PROTO = {
    JobStatus.QUEUED: pb.JOB_STATUS_QUEUED,
    JobStatus.RUNNING: pb.JOB_STATUS_RUNNING,
    JobStatus.SUCCEEDED: pb.JOB_STATUS_SUCCEEDED,
    JobStatus.FAILED: pb.JOB_STATUS_FAILED,
}
_STATUS_FROM_PROTO = {v: k for k, v in _STATUS_TO_PROTO.items()}


_SEVERITY_TO_PROTO = {
    Severity.WARNING: pb.FINDING_SEVERITY_WARNING,
    Severity.REFUSAL: pb.FINDING_SEVERITY_REFUSAL,
}
_SEVERITY_FROM_PROTO = {v: k for k, v in _SEVERITY_TO_PROTO.items()}


def analysis_to_proto(analysis: Analysis) -> pb.Analysis:
    message = pb.Analysis(
        request_id=analysis.request_id,
        assessable=analysis.assessable,
        findings=[
            pb.Finding(
                code=f.code, severity=_SEVERITY_TO_PROTO[f.severity], reason=f.reason, value=f.value
            )
            for f in analysis.findings
        ],
        label=analysis.label,
        probabilities=analysis.probabilities,
        malignant_probability=analysis.malignant_probability,
        decision_threshold=analysis.decision_threshold,
        explanation=analysis.explanation,
        model=pb.ModelRef(name=analysis.model.name, version=analysis.model.version),
        disclaimer=analysis.disclaimer,
        threshold_basis=analysis.threshold_basis,
        target_sensitivity=analysis.target_sensitivity,
    )
    if analysis.diagnosis is not None:
        diagnosis = analysis.diagnosis
        message.diagnosis.CopyFrom(
            pb.Diagnosis(
                probabilities=diagnosis.probabilities,
                code=diagnosis.code,
                name=diagnosis.name,
                malignant=diagnosis.malignant,
            )
        )
    if analysis.heatmap is not None:
        crop = analysis.heatmap.crop
        message.heatmap.png = analysis.heatmap.png
        message.heatmap.crop.CopyFrom(
            pb.CropBox(left=crop.left, top=crop.top, width=crop.width, height=crop.height)
        )
    return message


def analysis_from_proto(message: pb.Analysis) -> Analysis:
    return Analysis(
        request_id=message.request_id,
        model=ModelRef(message.model.name, message.model.version),
        assessable=message.assessable,
        findings=tuple(
            Finding(f.code, _SEVERITY_FROM_PROTO[f.severity], f.reason, f.value)
            for f in message.findings
        ),
        label=message.label,
        probabilities=dict(message.probabilities),
        malignant_probability=message.malignant_probability,
        decision_threshold=message.decision_threshold,
        explanation=message.explanation,
        heatmap=_heatmap_from_proto(message.heatmap) if message.HasField("heatmap") else None,
        diagnosis=_diagnosis_from_proto(message.diagnosis)
        if message.HasField("diagnosis")
        else None,
        disclaimer=message.disclaimer,
        threshold_basis=message.threshold_basis,
        target_sensitivity=message.target_sensitivity,
    )


def _diagnosis_from_proto(message: pb.Diagnosis) -> Diagnosis:
    return Diagnosis(message.code, message.name, message.malignant, dict(message.probabilities))


def _heatmap_from_proto(message: pb.HeatMap) -> HeatMap:
    crop = message.crop
    return HeatMap(message.png, CropBox(crop.left, crop.top, crop.width, crop.height))


def _timestamp(seconds: float) -> Timestamp:
    # Whole seconds and nanoseconds apart: seconds * 1e9 overflows a double's
    # precision and would move the time by up to a few hundred nanoseconds.
    whole = math.floor(seconds)
    return Timestamp(seconds=whole, nanos=min(round((seconds - whole) * 1e9), 999_999_999))


def _seconds(stamp: Timestamp) -> float:
    return stamp.seconds + stamp.nanos / 1e9


def job_to_proto(job: Job) -> pb.Job:
    message = pb.Job(
        id=job.id,
        status=_STATUS_TO_PROTO[job.status],
        error=job.error,
        attempts=job.attempts,
        created_at=_timestamp(job.created_at),
        updated_at=_timestamp(job.updated_at),
    )
    if job.result is not None:
        message.result.CopyFrom(analysis_to_proto(job.result))
    return message


def job_from_proto(message: pb.Job) -> Job:
    return Job(
        id=message.id,
        status=_STATUS_FROM_PROTO[message.status],
        attempts=message.attempts,
        created_at=_seconds(message.created_at),
        updated_at=_seconds(message.updated_at),
        result=analysis_from_proto(message.result) if message.HasField("result") else None,
        error=message.error,
    )
