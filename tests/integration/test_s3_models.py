"""The S3 model repository against a local S3 server (moto's, in its own process).

`skinscan models push|list`, the download cache and its checksums, and hot
reload: inference follows the repository and switches to a newly published
version under load without a failed request, and keeps a broken one out.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from prometheus_client import REGISTRY

from inference.server import InferenceServer
from skinscan.errors import ConflictError, ModelNotFoundError
from skinscan_model.metadata import sha256_of
from skinscan_model.preprocessing import ImageLimits
from skinscan_model.repositories import open_store
from skinscan_model.s3 import parse_s3_url
from skinscan_model.s3_store import CLAIM_FILE, S3ModelStore
from skinscan_model.store import METADATA_FILE, MODEL_FILE, read_version
from skinscan_model.trials import trial_rows
from skinscan_pipeline.inference_client import InferenceClient
from skinscan_pipeline.pipeline import ImagePipeline
from tests.conftest import (
    TEST_MODEL_NAME,
    free_port,
    inference_settings,
    run_cli,
    train_test_model,
)

pytestmark = pytest.mark.integration


def _copy_with_model(source: Path, target: Path, model: bytes) -> Path:
    """A version folder like `source` whose model.onnx is `model`, checksum recorded."""
    shutil.copytree(source, target)
    (target / MODEL_FILE).write_bytes(model)
    metadata = json.loads((target / METADATA_FILE).read_text())
    metadata["model_sha256"] = sha256_of(target / MODEL_FILE)
    (target / METADATA_FILE).write_text(json.dumps(metadata))
    return target


def test_push_list_and_fetch_through_the_cache(
    model_repository: Path, s3_repository: str, tmp_path: Path
) -> None:
    local = model_repository / TEST_MODEL_NAME / "1"
    pushed = run_cli("models", "push", local, "--to", s3_repository)
    assert pushed.returncode == 0, pushed.stderr
    assert f"pushed {TEST_MODEL_NAME} version 1 to {s3_repository}" in pushed.stdout
    again = run_cli("models", "push", local, "--to", s3_repository)
    assert again.returncode == 0 and "nothing changed" in again.stdout

    listed = run_cli("models", "list", "--repository", s3_repository, "--model", TEST_MODEL_NAME)
    assert listed.returncode == 0, listed.stderr
    sha = sha256_of(local / MODEL_FILE)
    (row,) = [line for line in listed.stdout.splitlines() if line.startswith("1 ")]
    assert sha[:12] in row and "32 px" in row

    # Every file of the version is there, the card included, and the publisher's claim.
    bucket, prefix = parse_s3_url(s3_repository)
    keys = {
        item["Key"].rsplit("/", 1)[1]
        for item in boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    }
    assert keys == {p.name for p in local.iterdir() if p.is_file()} | {CLAIM_FILE}

    store = open_store(s3_repository, tmp_path / "cache")
    fetched = store.fetch(TEST_MODEL_NAME)
    store.verify(fetched)
    assert (
        fetched.version == "1"
        and fetched.onnx_path.read_bytes() == (local / MODEL_FILE).read_bytes()
    )
    assert fetched.path == tmp_path / "cache" / TEST_MODEL_NAME / "1"
    # A second fetch reuses the verified download.
    downloaded = fetched.onnx_path.stat().st_mtime_ns
    assert store.fetch(TEST_MODEL_NAME).onnx_path.stat().st_mtime_ns == downloaded
    # A damaged copy in the cache is downloaded again.
    fetched.onnx_path.write_bytes(b"damaged")
    store.verify(store.fetch(TEST_MODEL_NAME))

    # A different model under a number that exists is refused, by the store and the CLI.
    other = _copy_with_model(local, tmp_path / "other" / TEST_MODEL_NAME / "1", b"another model")
    with pytest.raises(ConflictError, match="never overwritten"):
        store.put(read_version(other))
    refused = run_cli("models", "push", other, "--to", s3_repository)
    assert refused.returncode == 1 and "never overwritten" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_trials_are_kept_beside_the_versions_and_listed(
    model_repository: Path, s3_repository: str, tmp_path: Path
) -> None:
    """A run that did not beat its parent is recorded in the S3 repository as in a folder: read
    back in order, never taken for a version, and shown by `skinscan models list`."""
    local = model_repository / TEST_MODEL_NAME / "1"
    assert run_cli("models", "push", local, "--to", s3_repository).returncode == 0
    store = open_store(s3_repository, tmp_path / "cache")
    parent = {
        "name": TEST_MODEL_NAME,
        "version": "1",
        "model_sha256": sha256_of(local / MODEL_FILE),
    }
    for created, difference in (
        ("2026-12-06T19:00:00+00:00", -0.01),
        ("2026-12-06T18:00:00+00:00", 0.0031),
    ):
        row = {
            "version": None,
            "trial": True,
            "published": False,
            "trained": "the whole network",
            "minutes": 70.3,
            "versus_parent": {"difference": difference, "ci95": [-0.0132, 0.0208]},
            "roc_auc": {"all sources": 0.8692},
        }
        record = {"parent": parent, "created_at": created, "model_sha256": created, "row": row}
        where = store.record_trial(TEST_MODEL_NAME, created[11:13], record)
        assert where.startswith(s3_repository) and where.endswith(
            "/trials/" + created[11:13] + ".json"
        )
    assert [
        r["versus_parent"]["difference"]
        for r in trial_rows(store, TEST_MODEL_NAME, parent["model_sha256"])
    ] == [0.0031, -0.01]
    assert store.versions(TEST_MODEL_NAME) == ["1"]
    listed = run_cli("models", "list", "--repository", s3_repository, "--model", TEST_MODEL_NAME)
    assert listed.returncode == 0, listed.stderr
    assert "runs that did not beat their parent" in listed.stdout
    assert "+0.0031 [-0.0132, +0.0208]" in listed.stdout and "70 min" in listed.stdout


def test_publishers_never_share_a_version_number(
    model_repository: Path, s3_repository: str, tmp_path: Path
) -> None:
    store = S3ModelStore(s3_repository, tmp_path / "cache")
    local = read_version(model_repository / TEST_MODEL_NAME / "1")
    other = read_version(
        _copy_with_model(local.path, tmp_path / "other" / TEST_MODEL_NAME / "1", b"other model")
    )
    # A publisher that crashed after claiming version 1: the same model may finish it,
    # another may not.
    bucket, prefix = parse_s3_url(s3_repository)
    boto3.client("s3").put_object(
        Bucket=bucket,
        Key=f"{prefix}{TEST_MODEL_NAME}/1/{CLAIM_FILE}",
        Body=local.metadata.model_sha256.encode(),
    )
    assert store.versions(TEST_MODEL_NAME) == []
    with pytest.raises(ConflictError, match="another publisher is writing"):
        store.put(other)
    store.put(local)
    # A freshly trained model goes under the next free number, past every claim.
    boto3.client("s3").put_object(
        Bucket=bucket, Key=f"{prefix}{TEST_MODEL_NAME}/2/{CLAIM_FILE}", Body=b"someone else"
    )
    published = store.publish_next(other)
    assert published.version == "3"
    assert store.versions(TEST_MODEL_NAME) == ["1", "3"]
    fetched = store.fetch(TEST_MODEL_NAME)
    store.verify(fetched)
    assert fetched.onnx_path.read_bytes() == b"other model"


def test_a_damaged_object_or_a_missing_bucket_is_reported_never_served(
    model_repository: Path, s3_repository: str, tmp_path: Path
) -> None:
    store = open_store(s3_repository, tmp_path / "cache")
    store.put(read_version(model_repository / TEST_MODEL_NAME / "1"))
    bucket, prefix = parse_s3_url(s3_repository)
    boto3.client("s3").put_object(
        Bucket=bucket, Key=f"{prefix}{TEST_MODEL_NAME}/1/{MODEL_FILE}", Body=b"not the model"
    )
    fetched = store.fetch(TEST_MODEL_NAME)
    with pytest.raises(ModelNotFoundError, match="not the file that was published"):
        store.verify(fetched)
    assert not fetched.onnx_path.exists()

    missing = S3ModelStore("s3://no-such-bucket/models", tmp_path / "cache")
    with pytest.raises(ModelNotFoundError, match="NoSuchBucket"):
        missing.versions(TEST_MODEL_NAME)
    listed = run_cli("models", "list", "--repository", "s3://no-such-bucket/models")
    assert listed.returncode == 1 and "NoSuchBucket" in listed.stderr
    assert "Traceback" not in listed.stderr


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_new_version_is_switched_to_under_load_and_a_broken_one_kept_out(
    model_repository: Path,
    test_sources: tuple[Path, ...],
    malignant_jpeg: Path,
    s3_repository: str,
    tmp_path: Path,
) -> None:
    local = tmp_path / "models"
    shutil.copytree(model_repository, local)
    # Version 2 takes another input size: images prepared for version 1 are in
    # flight when it is switched in, so the old version must still answer them.
    train_test_model(test_sources, local, epochs=1, image_size=40)
    store = open_store(s3_repository, tmp_path / "publisher-cache")
    store.put(read_version(local / TEST_MODEL_NAME / "1"))
    broken = _copy_with_model(
        local / TEST_MODEL_NAME / "2", tmp_path / "broken" / TEST_MODEL_NAME / "3", b"not onnx"
    )
    settings = inference_settings(
        s3_repository,
        port=free_port(),
        model_poll_s=0.2,
        replaced_version_grace_s=1.0,
        SKINSCAN_MODEL_CACHE_DIR=str(tmp_path / "inference-cache"),
    )
    image = malignant_jpeg.read_bytes()
    switched = {"outcome": "switched"}
    failed = {"outcome": "failed"}
    updates = "skinscan_inference_model_updates_total"
    loaded = "skinscan_inference_model_loaded"
    cpu = "CPUExecutionProvider"
    switched_before, failed_before = _sample(updates, switched), _sample(updates, failed)

    async def scenario() -> None:
        server = InferenceServer(settings)
        await server.start()
        client = InferenceClient(f"127.0.0.1:{settings.port}", TEST_MODEL_NAME, timeout_s=30)
        pipeline = ImagePipeline(client, ImageLimits())
        answered: list[str] = []
        errors: list[BaseException] = []
        stop = asyncio.Event()

        async def caller(number: int) -> None:
            sent = 0
            while not stop.is_set():
                try:
                    analysis = await pipeline.classify(image, f"caller{number}-{sent}")
                    answered.append(analysis.model.version)
                except Exception as error:
                    errors.append(error)
                sent += 1

        async def until(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
            deadline = asyncio.get_running_loop().time() + timeout_s
            while not condition():
                assert asyncio.get_running_loop().time() < deadline, f"timed out: {what}"
                await asyncio.sleep(0.05)

        try:
            assert (await client.wait_until_ready()).version == "1"
            callers = [asyncio.create_task(caller(n)) for n in range(4)]
            await until(lambda: len(answered) >= 20, "answers from version 1")
            await asyncio.to_thread(store.put, read_version(local / TEST_MODEL_NAME / "2"))
            await until(lambda: answered[-8:] == ["2"] * 8, "answers from version 2")
            assert (client.model.version, client.model.input_size) == ("2", 40)
            # After the grace period version 1 is unloaded; the load goes on meanwhile.
            await until(
                lambda: (
                    _sample(loaded, {"model": TEST_MODEL_NAME, "version": "1", "provider": cpu})
                    == 0
                ),
                "version 1 unloaded",
            )
            assert _sample(updates, switched) == switched_before + 1

            # A version that cannot be loaded is counted and never served.
            await asyncio.to_thread(store.put, read_version(broken))
            await until(lambda: _sample(updates, failed) == failed_before + 1, "the failed load")
            served_before = len(answered)
            await until(lambda: len(answered) >= served_before + 20, "answers after it")
            stop.set()
            await asyncio.gather(*callers)
        finally:
            stop.set()
            await client.close()
            await server.stop()
        assert errors == []
        first_new = answered.index("2")
        assert set(answered[:first_new]) == {"1"}
        # The four callers' answers may cross at the switch; after that, only version 2.
        assert set(answered[first_new + 4 :]) == {"2"}
        assert _sample(loaded, {"model": TEST_MODEL_NAME, "version": "2", "provider": cpu}) == 0
        assert _sample(updates, switched) == switched_before + 1

    asyncio.run(scenario())


def test_training_reads_its_data_from_s3_and_publishes_the_next_version(
    small_dataset: Path,
    model_repository: Path,
    s3_repository: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the training Job on the cluster runs (k8s/training)."""
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    bucket, _ = parse_s3_url(s3_repository)
    s3 = boto3.client("s3")
    images = sorted(small_dataset.rglob("*.jpg"))
    for path in images:
        s3.upload_file(str(path), bucket, f"data/isic/{path.relative_to(small_dataset)}")
    store = S3ModelStore(s3_repository, tmp_path / "cache")
    store.put(read_version(model_repository / TEST_MODEL_NAME / "1"))
    arguments: list[str | Path] = [
        "train",
        "--data",
        f"s3://{bucket}/data/isic",
        "--out",
        s3_repository,
        "--data-cache",
        tmp_path / "data-cache",
        "--model-name",
        TEST_MODEL_NAME,
        "--architecture",
        "tiny",
        "--weights",
        "none",
        "--epochs",
        "1",
        "--image-size",
        "32",
        "--batch-size",
        "8",
        "--validation-fraction",
        "0.25",
        "--test-fraction",
        "0",
        "--no-int8",
        "--no-checkpoints",
    ]
    trained = run_cli(*arguments)
    assert trained.returncode == 0, trained.stderr
    assert f"published {TEST_MODEL_NAME} version 2 to {s3_repository}" in trained.stdout
    assert store.versions(TEST_MODEL_NAME) == ["1", "2"]
    store.verify(store.fetch(TEST_MODEL_NAME, "2"))
    # Every image came down once; a second run (a resumed job) downloads none of them.
    (cached,) = (tmp_path / "data-cache").iterdir()
    assert len(list(cached.rglob("*.jpg"))) == len(images)
    again = run_cli(*arguments)
    assert again.returncode == 0, again.stderr
    assert f"0 files downloaded to {cached}" in again.stdout
    assert store.versions(TEST_MODEL_NAME) == ["1", "2", "3"]
    # The local copies written before each upload are gone.
    assert list((tmp_path / "tmp").iterdir()) == []
