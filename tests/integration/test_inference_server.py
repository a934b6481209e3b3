"""The inference server on a free port, checked against ONNX Runtime and the official client."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import grpc
import numpy as np
import onnxruntime as ort
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY

from inference.server import InferenceServer
from skinscan_internal.inference import grpc_predict_v2_pb2 as pb
from skinscan_internal.inference import grpc_predict_v2_pb2_grpc as pb_grpc
from skinscan_model.store import LocalModelStore
from tests.conftest import TEST_MODEL_NAME, free_port, inference_settings

pytestmark = pytest.mark.integration


def _pixels(n: int, size: int) -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_model_infer_matches_onnx_runtime_and_bad_requests_are_refused(
    model_repository: Path,
) -> None:
    version = LocalModelStore(model_repository).fetch(TEST_MODEL_NAME)
    size = version.metadata.input.size
    pixels = _pixels(3, size)
    session = ort.InferenceSession(str(version.onnx_path), providers=["CPUExecutionProvider"])
    expected_logits, expected_probabilities = session.run(
        ["logits", "probabilities"], {"pixels": pixels}
    )

    async def scenario() -> None:
        server = InferenceServer(inference_settings(model_repository))
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                health = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest()
                )
                assert health.status == health_pb2.HealthCheckResponse.SERVING
                stub = pb_grpc.GRPCInferenceServiceStub(channel)
                assert (await stub.ServerReady(pb.ServerReadyRequest())).ready
                # What the "no model loaded" alert reads.
                loaded = REGISTRY.get_sample_value(
                    "skinscan_inference_model_loaded",
                    {
                        "model": TEST_MODEL_NAME,
                        "version": version.version,
                        "provider": "CPUExecutionProvider",
                    },
                )
                assert loaded == 1
                request = pb.ModelInferRequest(model_name=TEST_MODEL_NAME, id="r1")
                request.inputs.add(name="pixels", datatype="UINT8", shape=list(pixels.shape))
                request.raw_input_contents.append(pixels.tobytes())
                response = await stub.ModelInfer(request)
                assert response.model_version == version.version and response.id == "r1"
                dtypes = {"FP32": "<f4", "UINT8": "u1"}
                got = {
                    t.name: np.frombuffer(raw, dtypes[t.datatype]).reshape(tuple(t.shape))
                    for t, raw in zip(response.outputs, response.raw_output_contents, strict=True)
                }
                assert got["heatmap"].shape == (3, size, size) and got["ood_score"].shape == (3,)
                np.testing.assert_allclose(got["logits"], expected_logits, atol=1e-5)
                np.testing.assert_allclose(got["probabilities"], expected_probabilities, atol=1e-6)
                assert json.loads(response.parameters["skinscan.labels"].string_param) == [
                    "benign",
                    "malignant",
                ]
                # The promise its threshold was chosen for travels with every answer.
                assert response.parameters["skinscan.target_sensitivity"].double_param > 0

                wrong_shape = pb.ModelInferRequest(model_name=TEST_MODEL_NAME)
                wrong_shape.inputs.add(name="pixels", datatype="UINT8", shape=[1, size, size, 3])
                wrong_shape.raw_input_contents.append(b"\x00" * 10)
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await stub.ModelInfer(wrong_shape)
                assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert "bytes of raw data" in refused.value.details()
                with pytest.raises(grpc.aio.AioRpcError) as missing:
                    await stub.ModelMetadata(pb.ModelMetadataRequest(name="no-such-model"))
                assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        finally:
            await server.stop()

    asyncio.run(scenario())


TRITON_CLIENT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tritonclient.grpc as triton

    target, model, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    client = triton.InferenceServerClient(target)
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready(model)
    meta = client.get_model_metadata(model, as_json=True)
    pixels = np.random.default_rng(7).integers(0, 256, (3, size, size, 3), dtype=np.uint8)
    tensor = triton.InferInput("pixels", list(pixels.shape), "UINT8")
    tensor.set_data_from_numpy(pixels)
    result = client.infer(model, [tensor])
    print(json.dumps({"meta": meta, "logits": result.as_numpy("logits").tolist()}))
    """
)


def test_official_tritonclient_interoperates(model_repository: Path, tmp_path: Path) -> None:
    """tritonclient runs in its own process: its protos and ours share the `inference` package."""
    version = LocalModelStore(model_repository).fetch(TEST_MODEL_NAME)
    size = version.metadata.input.size
    port = free_port()
    env_settings = {
        "SKINSCAN_MODEL_REPOSITORY": str(model_repository),
        "SKINSCAN_MODEL_NAME": TEST_MODEL_NAME,
        "SKINSCAN_INFERENCE_PORT": str(port),
        "SKINSCAN_INFERENCE_METRICS_PORT": "0",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "inference"], env={**os.environ, **env_settings}
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            for update in health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(), wait_for_ready=True, timeout=60
            ):
                if update.status == health_pb2.HealthCheckResponse.SERVING:
                    break
        script = tmp_path / "client.py"
        script.write_text(TRITON_CLIENT)
        run = subprocess.run(
            [sys.executable, str(script), f"127.0.0.1:{port}", TEST_MODEL_NAME, str(size)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
        answer = json.loads(run.stdout)
        assert answer["meta"]["inputs"][0]["datatype"] == "UINT8"
        session = ort.InferenceSession(str(version.onnx_path), providers=["CPUExecutionProvider"])
        (expected,) = session.run(["logits"], {"pixels": _pixels(3, size)})
        np.testing.assert_allclose(np.array(answer["logits"], np.float32), expected, atol=1e-5)
    finally:
        server.terminate()
        assert server.wait(30) == 0
