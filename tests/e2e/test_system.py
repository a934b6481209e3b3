"""The whole system as a user runs it: `skinscan up`, then gRPC, REST and the CLI."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import numpy as np
import pytest
import redis
from PIL import Image

from skinscan import Client
from skinscan.errors import InvalidImageError, NotFoundError
from skinscan.jobs import JobStatus
from skinscan_model.diagnoses import DIAGNOSES
from tests.conftest import TEST_MODEL_NAME, free_port
from tests.images import png_bytes, png_header_bomb

pytestmark = pytest.mark.e2e

MAX_BYTES = 2 * 1024 * 1024


@dataclass
class System:
    grpc_target: str
    rest_url: str
    env: dict[str, str]


def _reader(stream, lines: list[str], ready: threading.Event) -> None:
    for line in stream:
        lines.append(line)
        sys.stderr.write(line)
        if "skinscan is up" in line:
            ready.set()


@pytest.fixture(scope="module")
def system(model_repository: Path, redis_url: str) -> Iterator[System]:
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    ports = {name: free_port() for name in ("grpc", "rest", "pre", "inf", "m1", "m2", "m3")}
    env = {
        **os.environ,
        "SKINSCAN_MODEL_REPOSITORY": str(model_repository),
        "SKINSCAN_MODEL_NAME": TEST_MODEL_NAME,
        "SKINSCAN_REDIS_URL": redis_url,
        "SKINSCAN_GATEWAY_GRPC_PORT": str(ports["grpc"]),
        "SKINSCAN_GATEWAY_REST_PORT": str(ports["rest"]),
        "SKINSCAN_GATEWAY_METRICS_PORT": str(ports["m1"]),
        "SKINSCAN_GATEWAY_PREPROCESSOR_TARGET": f"127.0.0.1:{ports['pre']}",
        "SKINSCAN_MAX_IMAGE_BYTES": str(MAX_BYTES),
        "SKINSCAN_PREPROCESSOR_PORT": str(ports["pre"]),
        "SKINSCAN_PREPROCESSOR_METRICS_PORT": str(ports["m2"]),
        "SKINSCAN_PREPROCESSOR_INFERENCE_TARGET": f"127.0.0.1:{ports['inf']}",
        "SKINSCAN_INFERENCE_PORT": str(ports["inf"]),
        "SKINSCAN_INFERENCE_METRICS_PORT": str(ports["m3"]),
        "SKINSCAN_INFERENCE_INTRA_OP_THREADS": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "skinscan_cli", "up"],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    lines: list[str] = []
    ready = threading.Event()
    reader = threading.Thread(target=_reader, args=(process.stdout, lines, ready), daemon=True)
    reader.start()
    if not ready.wait(120):
        process.kill()
        pytest.fail("skinscan up did not report ready:\n" + "".join(lines))
    yield System(f"127.0.0.1:{ports['grpc']}", f"http://127.0.0.1:{ports['rest']}", env)
    process.send_signal(signal.SIGTERM)
    code = process.wait(60)
    reader.join(10)
    assert process.stdout is not None
    process.stdout.close()
    assert code == 0, "skinscan up must stop cleanly on SIGTERM"
    assert "Traceback" not in "".join(lines)


def _check_analysis(body: dict) -> None:
    assert body["assessable"] is True
    assert not [f for f in body["findings"] if f["severity"] == "refusal"]
    assert body["label"] in ("benign", "malignant")
    assert sum(body["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
    assert body["malignant_probability"] == pytest.approx(body["probabilities"]["malignant"])
    decided = (
        "malignant" if body["malignant_probability"] >= body["decision_threshold"] else "benign"
    )
    assert body["label"] == decided and body["explanation"].endswith(f": {decided}")
    assert body["model"] == {"name": TEST_MODEL_NAME, "version": "1"}
    diagnosis = body["diagnosis"]
    assert list(diagnosis["probabilities"]) == sorted(DIAGNOSES)
    assert sum(diagnosis["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
    assert diagnosis["code"] == max(diagnosis["probabilities"], key=diagnosis["probabilities"].get)
    assert diagnosis["name"] == DIAGNOSES[diagnosis["code"]].name
    conflicting = diagnosis["malignant"] != (body["label"] == "malignant")
    assert conflicting == any(f["code"] == "conflicting_evidence" for f in body["findings"])
    heatmap = Image.open(io.BytesIO(base64.b64decode(body["heatmap"]["png_base64"])))
    assert heatmap.mode == "L" and heatmap.size == (32, 32)
    # The real test images are 224x224 squares: the model saw all of each.
    assert body["heatmap"]["crop"] == {"left": 0.0, "top": 0.0, "width": 224.0, "height": 224.0}
    assert "dermatologist" in body["disclaimer"]
    assert body["request_id"]


def test_grpc_and_rest_agree_on_a_real_dermoscopy_image(
    system: System, malignant_jpeg: Path
) -> None:
    with Client(system.grpc_target) as client:
        via_grpc = client.analyze(malignant_jpeg).to_dict()
    _check_analysis(via_grpc)
    with malignant_jpeg.open("rb") as image:
        response = httpx.post(f"{system.rest_url}/v1/analyses", files={"image": image}, timeout=60)
    assert response.status_code == 200, response.text
    via_rest = response.json()
    _check_analysis(via_rest)
    assert via_rest["label"] == via_grpc["label"]
    assert via_rest["probabilities"] == pytest.approx(via_grpc["probabilities"], abs=1e-6)


def test_cli_prints_one_json_result_per_image_and_writes_heat_maps(
    system: System, isic_train: Path, tmp_path: Path
) -> None:
    images = [sorted((isic_train / c).glob("*.jpg"))[3] for c in ("benign", "malignant")]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "skinscan_cli",
            "analyze",
            "--json",
            "--heatmap",
            str(tmp_path / "maps"),
            "--target",
            system.grpc_target,
            *map(str, images),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=system.env,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["image"] for line in lines] == [str(p) for p in images]
    for line, image in zip(lines, images, strict=True):
        _check_analysis(line)
        overlay = Image.open(line["heatmap_overlay"])
        assert overlay.size == Image.open(image).size and overlay.mode == "RGB"
        # The map changed the picture, where the model looked.
        assert np.abs(np.asarray(overlay, int) - np.asarray(Image.open(image), int)).mean() > 1


BAD_INPUTS = {
    "empty": (b"", "empty"),
    "truncated jpeg": (None, "truncated"),
    "text file": (b"patient notes, not an image\n" * 10, "not a JPEG or PNG"),
    "30000x30000 png": (png_header_bomb(), "too many pixels"),
    "too small": (png_bytes(8, 8), "too small"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_gets_a_clear_error_and_the_system_keeps_serving(
    system: System, malignant_jpeg: Path, case: str
) -> None:
    data, reason = BAD_INPUTS[case]
    if data is None:
        data = malignant_jpeg.read_bytes()[:2000]
    response = httpx.post(
        f"{system.rest_url}/v1/analyses", files={"image": ("x", data)}, timeout=60
    )
    assert response.status_code == 422, response.text
    assert reason in response.json()["error"]
    with Client(system.grpc_target) as client:
        with pytest.raises(InvalidImageError, match=reason):
            client.analyze(data)
        _check_analysis(client.analyze(malignant_jpeg).to_dict())


def _noise_png() -> bytes:
    # The 300x300 PNG of 16-bit noise that once came back "benign, confidence 0.905".
    buffer = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 65536, (300, 300)).astype(np.uint16)
    Image.fromarray(noise).save(buffer, format="PNG")
    return buffer.getvalue()


def _sample_photo(index: int) -> Callable[[], bytes]:
    def photo() -> bytes:
        from sklearn.datasets import load_sample_images

        buffer = io.BytesIO()
        Image.fromarray(load_sample_images().images[index]).save(buffer, format="JPEG")
        return buffer.getvalue()

    return photo


def _black_jpeg() -> bytes:
    # The all-black JPEG that once came back "malignant, 0.997".
    buffer = io.BytesIO()
    Image.new("RGB", (300, 300)).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (_black_jpeg, "too_dark"),
        (_noise_png, "out_of_distribution"),
        (_sample_photo(0), "out_of_distribution"),
        (_sample_photo(1), "out_of_distribution"),
    ],
    ids=["black", "16-bit noise", "photo of a temple", "photo of a flower"],
)
def test_an_image_that_cannot_be_assessed_gets_reasons_and_no_label(
    system: System, make: Callable[[], bytes], code: str
) -> None:
    data = make()
    response = httpx.post(
        f"{system.rest_url}/v1/analyses", files={"image": ("x", data)}, timeout=60
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["assessable"] is False
    refusals = [f for f in body["findings"] if f["severity"] == "refusal"]
    assert code in {f["code"] for f in refusals} and all(f["reason"] for f in refusals)
    assert not {"label", "probabilities", "malignant_probability"} & set(body)
    assert "dermatologist" in body["disclaimer"] and body["model"]["version"] == "1"
    with Client(system.grpc_target) as client:
        analysis = client.analyze(data)
        assert not analysis.assessable and analysis.label == "" and not analysis.probabilities
        assert code in {f.code for f in analysis.refusals}
        job = client.wait_for_job(client.submit_job(data).id, timeout_s=60)
        assert job.status is JobStatus.SUCCEEDED and job.result == replace(
            analysis, request_id=job.id
        )


def test_oversized_upload_is_refused(system: System) -> None:
    data = os.urandom(MAX_BYTES + 1)
    response = httpx.post(
        f"{system.rest_url}/v1/analyses", files={"image": ("big.jpg", data)}, timeout=60
    )
    assert response.status_code == 413
    assert "limit" in response.json()["error"]
    with Client(system.grpc_target) as client, pytest.raises(InvalidImageError, match="limit"):
        client.analyze(data)


def _wait_job(url: str, job_id: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = httpx.get(f"{url}/v1/jobs/{job_id}", timeout=10).json()
        if body["status"] in ("succeeded", "failed"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {body}")


def test_jobs_over_rest_and_grpc(system: System, malignant_jpeg: Path) -> None:
    with malignant_jpeg.open("rb") as image:
        response = httpx.post(f"{system.rest_url}/v1/jobs", files={"image": image}, timeout=60)
    assert response.status_code == 202, response.text
    submitted = response.json()
    assert submitted["status"] == "queued"
    assert response.headers["location"] == f"/v1/jobs/{submitted['id']}"
    done = _wait_job(system.rest_url, submitted["id"])
    assert done["status"] == "succeeded", done
    _check_analysis(done["result"])

    with Client(system.grpc_target) as client:
        job = client.submit_job(malignant_jpeg)
        finished = client.wait_for_job(job.id, timeout_s=60)
        assert finished.status is JobStatus.SUCCEEDED
        assert finished.result is not None
        assert finished.result.label == done["result"]["label"]
        bad = client.wait_for_job(client.submit_job(b"not an image at all").id, timeout_s=60)
        assert bad.status is JobStatus.FAILED
        assert "not a JPEG or PNG" in bad.error
        with pytest.raises(NotFoundError):
            client.get_job("no-such-job")
    assert httpx.get(f"{system.rest_url}/v1/jobs/no-such-job", timeout=10).status_code == 404


def test_health_and_metrics(system: System) -> None:
    assert httpx.get(f"{system.rest_url}/healthz", timeout=10).json() == {"status": "ok"}
    for key, names in (
        (
            "SKINSCAN_GATEWAY_METRICS_PORT",
            ["skinscan_gateway_rpc_seconds", "skinscan_gateway_http_request_seconds"],
        ),
        (
            "SKINSCAN_PREPROCESSOR_METRICS_PORT",
            ["skinscan_preprocessor_decode_seconds", "skinscan_job_queue_depth"],
        ),
        (
            "SKINSCAN_INFERENCE_METRICS_PORT",
            ["skinscan_inference_queue_seconds", "skinscan_inference_batch_size_bucket"],
        ),
    ):
        text = httpx.get(f"http://127.0.0.1:{system.env[key]}/metrics", timeout=10).text
        for name in names:
            assert name in text
