"""Logs and traces of a real system: JSON lines with one request id across the three
services, and one OpenTelemetry trace per analysis, received by a real OTLP endpoint."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import redis
from cryptography.fernet import Fernet
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from skinscan import Client
from tests.conftest import TEST_MODEL_NAME, free_port
from tests.processes import SkinscanUp

pytestmark = pytest.mark.e2e


class _Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """The receiving end of OTLP/gRPC, as a tracing backend runs it: keeps every span."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, Any]] = []  # (service.name, span)
        self._lock = threading.Lock()

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        with self._lock:
            for resource_spans in request.resource_spans:
                attributes = {
                    a.key: a.value.string_value for a in resource_spans.resource.attributes
                }
                for scope in resource_spans.scope_spans:
                    self.spans += [(attributes["service.name"], s) for s in scope.spans]
        return trace_service_pb2.ExportTraceServiceResponse()


@dataclass
class Observed:
    up: SkinscanUp
    collector: _Collector
    headers: dict[str, str]
    # What must never reach a log line, by what it is.
    secrets: dict[str, str]


@pytest.fixture(scope="module")
def observed(
    model_repository: Path, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Observed]:
    collector = _Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    secrets = {
        "signing key": "jwt-" + Fernet.generate_key().decode(),
        "field key": Fernet.generate_key().decode(),
        "search key": Fernet.generate_key().decode(),
        "password": "a clinician's own long password",
    }
    up = SkinscanUp.first_start(
        model_repository,
        TEST_MODEL_NAME,
        redis_url,
        tmp_path_factory.mktemp("state"),
        SKINSCAN_LOG_FORMAT="json",
        # Each service's per-call line is at DEBUG.
        SKINSCAN_GATEWAY_LOG_LEVEL="DEBUG",
        SKINSCAN_PREPROCESSOR_LOG_LEVEL="DEBUG",
        SKINSCAN_INFERENCE_LOG_LEVEL="DEBUG",
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
        OTEL_EXPORTER_OTLP_INSECURE="true",
        OTEL_BSP_SCHEDULE_DELAY="100",
        SKINSCAN_JWT_SECRET=secrets["signing key"],
        SKINSCAN_FIELD_KEYS=secrets["field key"],
        SKINSCAN_SEARCH_KEY=secrets["search key"],
    )
    up.start(timeout_s=120)
    try:
        with Client(up.grpc_target) as admin:
            admin.login("admin", up.admin_password)
            _, api_key = admin.create_api_key("observability", "clinician")
            admin.create_user("gp.logs", secrets["password"], "clinician")
        # A sign-in over each face, so tokens and the password pass through every layer.
        with Client(up.grpc_target) as clinician:
            tokens = clinician.login("gp.logs", secrets["password"])
            clinician.whoami()
        granted = httpx.post(
            f"{up.rest_url}/v1/auth/token",
            data={"grant_type": "password", "username": "gp.logs", "password": secrets["password"]},
            timeout=30,
        )
        assert granted.status_code == 200, granted.text
        secrets |= {
            "API key": api_key,
            "access token": tokens.access_token,
            "refresh token": tokens.refresh_token,
            "REST access token": granted.json()["access_token"],
        }
        yield Observed(up, collector, {"Authorization": f"Bearer {api_key}"}, secrets)
    finally:
        up.stop()
        server.stop(None)


def _analyze(observed: Observed, image: Path, request_id: str) -> httpx.Response:
    with image.open("rb") as file:
        response = httpx.post(
            f"{observed.up.rest_url}/v1/analyses",
            files={"image": file},
            headers={**observed.headers, "X-Request-ID": request_id},
            timeout=60,
        )
    assert response.status_code == 200, response.text
    return response


def _records(up: SkinscanUp) -> list[dict[str, Any]]:
    """Every JSON line the services printed (the launcher's own lines are plain text)."""
    found = []
    for line in list(up.lines):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            found.append(record)
    return found


def _eventually(check: Callable[[], bool], what: str, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_every_service_logs_json_with_the_callers_request_id(
    observed: Observed, malignant_jpeg: Path
) -> None:
    sent = "clinic-app-7f3a9c"
    response = _analyze(observed, malignant_jpeg, sent)
    assert response.headers["X-Request-ID"] == sent
    assert response.json()["request_id"] == sent
    # An id that could forge a log field is replaced, never logged.
    forged = _analyze(observed, malignant_jpeg, 'x", "level": "ERROR')
    assert forged.json()["request_id"] == forged.headers["X-Request-ID"] != sent

    def logged_by_all() -> bool:
        ours = {r["service"] for r in _records(observed.up) if r.get("request_id") == sent}
        return ours == {"gateway", "preprocessor", "inference"}

    _eventually(logged_by_all, f"request {sent} in every service's log")
    records = _records(observed.up)
    for record in records:
        assert {"time", "level", "service", "logger", "message", "request_id"} <= set(record)
    assert [r for r in records if r["level"] in ("ERROR", "CRITICAL")] == []


def test_one_analysis_is_one_trace_across_the_three_services(
    observed: Observed, malignant_jpeg: Path
) -> None:
    _analyze(observed, malignant_jpeg, "traced-request-1")
    collector = observed.collector
    every = {"skinscan-gateway", "skinscan-preprocessor", "skinscan-inference"}

    def traces() -> dict[bytes, list[tuple[str, Any]]]:
        grouped: dict[bytes, list[tuple[str, Any]]] = {}
        for service, span in list(collector.spans):
            grouped.setdefault(span.trace_id, []).append((service, span))
        return grouped

    def complete() -> list[list[tuple[str, Any]]]:
        # Each service exports its spans on its own schedule: a trace is complete once
        # all three have sent theirs, the REST request's root among them.
        return [
            t
            for t in traces().values()
            if {service for service, _ in t} == every
            and any("/v1/analyses" in span.name and not span.parent_span_id for _, span in t)
        ]

    _eventually(lambda: bool(complete()), "a trace from all three services")
    trace = complete()[-1]
    names = {span.name for _, span in trace}
    assert any(name.endswith("/ModelInfer") for name in names)
    assert any(name.endswith(("/Classify", "/ClassifyImage")) for name in names)
    # The trace starts at the REST request and every other span hangs below it.
    by_id = {span.span_id: span for _, span in trace}
    roots = [span for span in by_id.values() if span.parent_span_id not in by_id]
    assert len(roots) == 1 and "/v1/analyses" in roots[0].name


def test_no_secret_reaches_a_log_line(observed: Observed, malignant_jpeg: Path) -> None:
    """Every service at DEBUG, after sign-ins over gRPC and REST, analyses and a trace: no
    key, password or token in any line. (The admin's first password is printed once, by
    design, on the terminal that started the system.)"""
    _analyze(observed, malignant_jpeg, "secrets-check")
    logged = "".join(observed.up.lines)
    leaked = [what for what, secret in observed.secrets.items() if secret in logged]
    assert leaked == []
    first_password = observed.up.admin_password
    assert sum(first_password in line for line in observed.up.lines) == 1
