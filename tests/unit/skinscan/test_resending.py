"""The SDK sends an upload again only when its failure left nothing behind.

UNAVAILABLE (a service that could not be reached, or said it cannot serve now) is sent again;
INTERNAL or UNKNOWN (a failure midway: a job may be queued already) is not, or a job would be
queued twice. Against a real gRPC server that answers as told; and each hop passes such a
failure on as what it is, over gRPC and REST.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from gateway.rest.errors import error_headers, http_status_for
from skinscan import Client
from skinscan.errors import UnavailableError
from skinscan.grpc_status import error_for_status, image_error_from_proto, status_for
from skinscan.v1 import analysis_pb2
from skinscan.v1 import analysis_service_pb2 as pb
from skinscan.v1 import analysis_service_pb2_grpc as pb_grpc
from tests.unit.skinscan.servers import analysis_server


class _Gateway(pb_grpc.AnalysisServiceServicer):
    """Fails the first calls with the given codes, then answers."""

    def __init__(self) -> None:
        self.failures: list[grpc.StatusCode] = []
        self.calls = {"SubmitJob": 0, "AnalyzeImage": 0}

    def _maybe_fail(self, method: str, context: grpc.ServicerContext) -> None:
        self.calls[method] += 1
        if self.failures:
            code = self.failures.pop(0)
            context.abort(code, f"{code.name} on purpose")

    def SubmitJob(self, request_iterator: Iterator[Any], context: grpc.ServicerContext) -> Any:
        list(request_iterator)
        self._maybe_fail("SubmitJob", context)
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "answered")

    def AnalyzeImage(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._maybe_fail("AnalyzeImage", context)
        return pb.AnalyzeImageResponse(
            analysis=analysis_pb2.Analysis(
                request_id="r", model=analysis_pb2.ModelRef(name="m", version="1")
            )
        )


@pytest.fixture
def gateway() -> Iterator[tuple[str, _Gateway]]:
    servicer = _Gateway()
    with analysis_server(servicer) as target:
        yield target, servicer


@pytest.mark.parametrize("code", [grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN])
def test_a_job_whose_submission_failed_midway_is_not_submitted_again(
    gateway: tuple[str, _Gateway], code: grpc.StatusCode
) -> None:
    target, servicer = gateway
    servicer.failures = [code]
    with Client(target, api_key="k") as client, pytest.raises(UnavailableError) as failed:
        client.submit_job(b"image bytes")
    assert servicer.calls["SubmitJob"] == 1
    assert not failed.value.resendable and code.name in str(failed.value)


def test_an_upload_that_found_no_service_is_sent_again(gateway: tuple[str, _Gateway]) -> None:
    """Past gRPC's own five attempts (its retry policy), the SDK sends it once more itself."""
    target, servicer = gateway
    servicer.failures = [grpc.StatusCode.UNAVAILABLE] * 5
    with Client(target, api_key="k") as client:
        assert client.analyze(b"image bytes").request_id == "r"
    assert servicer.calls["AnalyzeImage"] == 6


def test_each_hop_passes_a_failure_midway_on_as_one() -> None:
    midway = error_for_status(grpc.StatusCode.INTERNAL, "boom", "preprocessor")
    unreached = error_for_status(grpc.StatusCode.UNAVAILABLE, "down", "preprocessor")
    assert isinstance(midway, UnavailableError) and isinstance(unreached, UnavailableError)
    assert not midway.resendable and unreached.resendable
    assert status_for(midway) == grpc.StatusCode.INTERNAL
    assert status_for(unreached) == grpc.StatusCode.UNAVAILABLE
    assert http_status_for(midway) == 502 and "Retry-After" not in error_headers(midway)
    assert http_status_for(unreached) == 503 and error_headers(unreached)["Retry-After"] == "1"
    # grpc.aio's own stand-in for the status of an upload the server refused before reading
    # it (grpc/grpc#36066): nothing was done, so it may be sent again.
    early_end = error_for_status(grpc.StatusCode.INTERNAL, "Internal error from Core", "x")
    assert isinstance(early_end, UnavailableError) and early_end.resendable
    # One image of a batch, as the gateway reports it.
    for code, resendable in (("INTERNAL", False), ("UNAVAILABLE", True)):
        error = image_error_from_proto(analysis_pb2.ImageError(code=code, message="m"), "x")
        assert isinstance(error, UnavailableError) and error.resendable is resendable
