"""A gateway that preprocesses in its own process (SKINSCAN_GATEWAY_PREPROCESS_IN_PROCESS)
answers exactly as one that calls the preprocessor, without it.

Two real gateways side by side over one real inference service: one in front of the real
preprocessor, one that decodes itself and calls inference directly, with its preprocessor
address pointing at a port where nothing listens.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from skinscan import Analysis, Client
from skinscan.errors import InvalidImageError
from tests.conftest import TEST_MODEL_NAME, free_port
from tests.processes import Services, gateway_env

pytestmark = pytest.mark.integration

PASSWORD = "in-process admin password"


def _start_gateway(
    services: Services, tmp_path: Path, name: str, preprocessor_target: str, **settings: str
) -> tuple[str, dict[str, str]]:
    grpc_port = free_port()
    env = gateway_env(
        grpc_port,
        preprocessor_target,
        tmp_path / name,
        f"sqlite:///{tmp_path / f'{name}.db'}",
        PASSWORD,
        SKINSCAN_GATEWAY_METRICS_PORT=str(free_port()),
        SKINSCAN_MODEL_NAME=TEST_MODEL_NAME,
        **settings,
    )
    services.start("gateway", grpc_port, **env)
    target = f"127.0.0.1:{grpc_port}"
    with Client(target, timeout_s=60) as admin:
        admin.login("admin", PASSWORD)
        _, key = admin.create_api_key(name, "clinician")
    return key, {**env, "target": target}


@pytest.fixture(scope="module")
def gateways(
    preprocessor_target: str, inference_target: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[str, dict[str, str]]]]:
    tmp_path = tmp_path_factory.mktemp("gateways")
    services = Services({})
    try:
        yield {
            "remote": _start_gateway(services, tmp_path, "remote", preprocessor_target),
            "in_process": _start_gateway(
                services,
                tmp_path,
                "in_process",
                f"127.0.0.1:{free_port()}",  # nothing listens: it must not be called
                SKINSCAN_GATEWAY_PREPROCESS_IN_PROCESS="true",
                SKINSCAN_GATEWAY_INFERENCE_TARGET=inference_target,
            ),
        }
    finally:
        services.stop_all()


def _client(gateway: tuple[str, dict[str, str]]) -> Client:
    key, env = gateway
    return Client(env["target"], api_key=key, timeout_s=60)


def _same(a: Analysis, b: Analysis) -> None:
    assert a.label == b.label and a.assessable == b.assessable
    assert a.probabilities == pytest.approx(b.probabilities, abs=1e-6)
    assert a.model == b.model
    assert [f.code for f in a.findings] == [f.code for f in b.findings]
    assert (a.diagnosis is None) == (b.diagnosis is None)
    if a.diagnosis is not None and b.diagnosis is not None:
        assert a.diagnosis.code == b.diagnosis.code
        assert a.diagnosis.probabilities == pytest.approx(b.diagnosis.probabilities, abs=1e-6)
    assert (a.heatmap is None) == (b.heatmap is None)
    if a.heatmap is not None and b.heatmap is not None:
        # The same map, to within a level or two: inference batches the two paths' images
        # differently, and the int8 kernels' sums at another batch size can round a few pixels
        # of the uint8 map the other way (seen on an AVX-512 host).
        assert a.heatmap.crop == b.heatmap.crop
        ours, theirs = _levels(a.heatmap.png), _levels(b.heatmap.png)
        assert ours.shape == theirs.shape
        difference = np.abs(ours - theirs)
        # Measured: 1 level at 1 of 1,024 pixels in one of eight maps.
        assert difference.max() <= 4 and difference.mean() <= 0.25


def _levels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)), dtype=np.int16)


def _decoded(env: dict[str, str]) -> float:
    text = httpx.get(
        f"http://127.0.0.1:{env['SKINSCAN_GATEWAY_METRICS_PORT']}/metrics", timeout=10
    ).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "skinscan_preprocessor_decode_seconds"
        for sample in family.samples
        if sample.name.endswith("_count")
    )


def test_it_answers_as_the_preprocessor_does_one_image_and_a_batch(
    gateways: dict[str, tuple[str, dict[str, str]]], isic_train: Path, malignant_jpeg: Path
) -> None:
    images = [p.read_bytes() for p in sorted((isic_train / "benign").glob("*.jpg"))[:3]]
    images.append(malignant_jpeg.read_bytes())
    decoded_before = _decoded(gateways["in_process"][1])
    with _client(gateways["remote"]) as remote, _client(gateways["in_process"]) as local:
        for data in images:
            _same(local.analyze(data), remote.analyze(data))
        batch = dict(local.analyze_many(images))
        assert sorted(batch) == list(range(len(images)))
        for index, data in enumerate(images):
            result = batch[index]
            assert isinstance(result, Analysis), result
            _same(result, remote.analyze(data))
    # Decoded in the gateway itself: one image a call, and each image of the batch.
    assert _decoded(gateways["in_process"][1]) - decoded_before == 2 * len(images)


def test_bad_input_gets_the_same_clear_error_and_it_keeps_serving(
    gateways: dict[str, tuple[str, dict[str, str]]], malignant_jpeg: Path
) -> None:
    with _client(gateways["in_process"]) as local:
        with pytest.raises(InvalidImageError, match="not a JPEG or PNG"):
            local.analyze(b"patient notes, not an image")
        results = dict(local.analyze_many([b"patient notes", malignant_jpeg.read_bytes()]))
        assert isinstance(results[0], InvalidImageError)
        assert isinstance(results[1], Analysis) and results[1].model.version
        assert local.analyze(malignant_jpeg.read_bytes()).label in ("benign", "malignant")


def test_its_health_names_inference_not_the_preprocessor(
    gateways: dict[str, tuple[str, dict[str, str]]],
) -> None:
    for name, dependency in (("in_process", "inference"), ("remote", "preprocessor")):
        env = gateways[name][1]
        answer = httpx.get(
            f"http://127.0.0.1:{env['SKINSCAN_GATEWAY_REST_PORT']}/healthz", timeout=10
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "status": "ok",
            "dependencies": {dependency: "ok", "redis": "not configured", "database": "ok"},
        }
