"""The Python SDK: `Client` talks to the gateway's gRPC API, streaming uploads.

from skinscan import Client
with Client("127.0.0.1:50051") as client:
    analysis = client.analyze("lesion.jpg")
    print(analysis.label, analysis.confidence, analysis.disclaimer)
"""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType

import grpc

from skinscan.analysis import Analysis
from skinscan.errors import UnavailableError
from skinscan.grpc_status import raise_domain_error
from skinscan.jobs import Job
from skinscan.proto_convert import analysis_from_proto, job_from_proto
from skinscan.streaming import upload_messages
from skinscan.v1 import analysis_pb2, analysis_service_pb2, analysis_service_pb2_grpc

__all__ = ["Client"]


def _read(image: str | Path | bytes, filename: str) -> tuple[bytes, str]:
    if isinstance(image, bytes):
        return image, filename
    path = Path(image)
    return path.read_bytes(), filename or path.name


class Client:
    def __init__(self, target: str = "127.0.0.1:50051", timeout_s: float = 60.0) -> None:
        self._channel = grpc.insecure_channel(target)
        self._stub = analysis_service_pb2_grpc.AnalysisServiceStub(self._channel)
        self._timeout = timeout_s

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def analyze(self, image: str | Path | bytes, filename: str = "") -> Analysis:
        """Analyses one JPEG or PNG (a path or its bytes) and waits for the result.

        `filename` names the image in logs and reports (a path's own name by default).
        """
        data, name = _read(image, filename)
        metadata = analysis_pb2.ImageMetadata(filename=name, size_bytes=len(data))
        messages = upload_messages(analysis_service_pb2.AnalyzeRequest, "metadata", metadata, data)
        try:
            response = self._stub.Analyze(iter(messages), timeout=self._timeout)
        except grpc.RpcError as error:
            raise_domain_error(error, "gateway")
        return analysis_from_proto(response.analysis)

    def submit_job(self, image: str | Path | bytes, filename: str = "") -> Job:
        """Queues one image; returns the job at once."""
        data, name = _read(image, filename)
        metadata = analysis_pb2.ImageMetadata(filename=name, size_bytes=len(data))
        messages = upload_messages(
            analysis_service_pb2.SubmitJobRequest, "metadata", metadata, data
        )
        try:
            response = self._stub.SubmitJob(iter(messages), timeout=self._timeout)
        except grpc.RpcError as error:
            raise_domain_error(error, "gateway")
        return job_from_proto(response.job)

    def get_job(self, job_id: str) -> Job:
        try:
            response = self._stub.GetJob(
                analysis_service_pb2.GetJobRequest(job_id=job_id), timeout=self._timeout
            )
        except grpc.RpcError as error:
            raise_domain_error(error, "gateway")
        return job_from_proto(response.job)

    def wait_for_job(self, job_id: str, timeout_s: float = 120.0, poll_s: float = 0.2) -> Job:
        """Polls until the job has succeeded or failed."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.get_job(job_id)
            if job.status.finished:
                return job
            if time.monotonic() > deadline:
                raise UnavailableError(f"job {job_id} still {job.status.value} after {timeout_s} s")
            time.sleep(poll_s)
