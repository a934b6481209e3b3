"""JSON logs, one object per line, and one request id across the three services."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from skinscan import Client
from tests.conftest import TEST_MODEL_NAME
from tests.processes import SkinscanUp

pytestmark = pytest.mark.e2e


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


def test_every_service_logs_json_with_the_callers_request_id(
    model_repository: Path, redis_url: str, tmp_path: Path, malignant_jpeg: Path
) -> None:
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    up = SkinscanUp.first_start(
        model_repository,
        TEST_MODEL_NAME,
        redis_url,
        tmp_path / "state",
        SKINSCAN_LOG_FORMAT="json",
        # Each service's per-call line is at DEBUG.
        SKINSCAN_GATEWAY_LOG_LEVEL="DEBUG",
        SKINSCAN_PREPROCESSOR_LOG_LEVEL="DEBUG",
        SKINSCAN_INFERENCE_LOG_LEVEL="DEBUG",
    )
    up.start(timeout_s=120)
    try:
        with Client(up.grpc_target) as admin:
            admin.login("admin", up.admin_password)
            _, api_key = admin.create_api_key("logs", "clinician")
        sent = "clinic-app-7f3a9c"
        with malignant_jpeg.open("rb") as image:
            response = httpx.post(
                f"{up.rest_url}/v1/analyses",
                files={"image": image},
                headers={"Authorization": f"Bearer {api_key}", "X-Request-ID": sent},
                timeout=60,
            )
        assert response.status_code == 200, response.text
        assert response.headers["X-Request-ID"] == sent
        assert response.json()["request_id"] == sent
        # An id that could forge a log line is replaced, never logged.
        with malignant_jpeg.open("rb") as image:
            forged = httpx.post(
                f"{up.rest_url}/v1/analyses",
                files={"image": image},
                headers={"Authorization": f"Bearer {api_key}", "X-Request-ID": 'x", "level": "ERROR'},
                timeout=60,
            )
        assert forged.status_code == 200
        assert forged.json()["request_id"] == forged.headers["X-Request-ID"] != sent

        deadline = time.monotonic() + 10
        while True:
            ours = [r for r in _records(up) if r.get("request_id") == sent]
            services = {r["service"] for r in ours}
            if services == {"gateway", "preprocessor", "inference"}:
                break
            assert time.monotonic() < deadline, f"request {sent} logged only by {services}"
            time.sleep(0.2)
        for record in _records(up):
            assert {"time", "level", "service", "logger", "message", "request_id"} <= set(record)
        assert api_key not in "".join(up.lines)
    finally:
        up.stop()
