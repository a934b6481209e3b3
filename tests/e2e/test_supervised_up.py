"""`skinscan up` keeps the system running and stops it cleanly, on real processes.

A crashed service is restarted while the others serve; one that keeps crashing
stops everything with a reason; Ctrl-C (SIGINT to the whole process group, as a
terminal sends it) stops the services front to back without failing a request
already accepted; nothing is left in /tmp; queued jobs survive a restart.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from skinscan import Client
from skinscan.errors import RateLimitedError, SkinscanError, UnavailableError
from skinscan.jobs import JobStatus
from tests.conftest import TEST_MODEL_NAME
from tests.processes import SkinscanUp

pytestmark = pytest.mark.e2e


def _up(model_repository: Path, tmp_path: Path, **settings: str) -> SkinscanUp:
    """A system with the embedded Redis and its own, initially empty, temporary folder."""
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return SkinscanUp.first_start(
        model_repository,
        TEST_MODEL_NAME,
        None,
        tmp_path / "state",
        TMPDIR=str(tmp_path / "tmp"),
        # The callers here share one key; its rate limit is not what is tested.
        SKINSCAN_GATEWAY_RATE_LIMIT_PER_MINUTE="100000",
        SKINSCAN_GATEWAY_RATE_LIMIT_BURST="10000",
        **settings,
    )


def _api_key(up: SkinscanUp) -> str:
    with Client(up.grpc_target) as admin:
        admin.login("admin", up.admin_password)
        return admin.create_api_key("supervision", "clinician")[1]


def _wait_for_line(up: SkinscanUp, text: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not any(text in line for line in list(up.lines)):
        assert time.monotonic() < deadline, f"no line with {text!r}:\n" + "".join(up.lines)
        time.sleep(0.1)


class _Load:
    """Callers analysing one image over and over until stopped; every outcome is kept."""

    def __init__(
        self, target: str, api_key: str, image: Path, callers: int, retries: bool = True
    ) -> None:
        self.answered = 0
        self.versions: list[str] = []  # the model version of each answer, in order
        self.errors: list[SkinscanError] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._call, args=(target, api_key, image, retries), daemon=True)
            for _ in range(callers)
        ]

    def __enter__(self) -> _Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _call(self, target: str, api_key: str, image: Path, retries: bool) -> None:
        with Client(target, api_key=api_key, timeout_s=60, retries=retries) as client:
            while not self._stop.is_set():
                try:
                    analysis = client.analyze(image)
                    with self._lock:
                        self.answered += 1
                        self.versions.append(analysis.model.version)
                except RateLimitedError as refused:  # refused, not accepted: wait as told
                    time.sleep(min(refused.retry_after_s, 1.0))
                except SkinscanError as error:
                    with self._lock:
                        self.errors.append(error)
                    if isinstance(error, UnavailableError) and "connect" in str(error).lower():
                        time.sleep(0.05)  # the gateway is gone: do not spin


@pytest.fixture
def model_copy(model_repository: Path, tmp_path: Path) -> Iterator[Path]:
    copy = tmp_path / "models"
    shutil.copytree(model_repository, copy)
    yield copy


def test_a_killed_service_is_restarted_while_the_sdk_keeps_getting_answers(
    model_repository: Path, tmp_path: Path, malignant_jpeg: Path
) -> None:
    up = _up(model_repository, tmp_path)
    up.start(timeout_s=120)
    try:
        key = _api_key(up)
        with _Load(up.grpc_target, key, malignant_jpeg, callers=2) as load:
            _eventually = time.monotonic() + 30
            while load.answered < 5:
                assert time.monotonic() < _eventually
                time.sleep(0.1)
            before = load.answered
            os.kill(up.children()["inference"], signal.SIGKILL)
            _wait_for_line(up, "inference restarted and serving")
            deadline = time.monotonic() + 30
            while load.answered < before + 10:
                assert time.monotonic() < deadline, "no answers after the restart"
                time.sleep(0.1)
        print(f"inference killed under load: {load.answered} answered, {len(load.errors)} failed")
        assert load.errors == [], load.errors
        assert any("inference stopped unexpectedly (code -9)" in line for line in up.lines)
    finally:
        up.stop()


def test_a_service_that_keeps_crashing_stops_everything_with_the_reason(
    model_copy: Path, tmp_path: Path
) -> None:
    up = _up(
        model_copy,
        tmp_path,
        SKINSCAN_RESTART_LIMIT="3",
        SKINSCAN_RESTART_BACKOFF_S="0.2",
    )
    up.start(timeout_s=120)
    assert up.process is not None
    # Inference can no longer start: its model is gone.
    shutil.rmtree(model_copy)
    os.kill(up.children()["inference"], signal.SIGKILL)
    assert up.process.wait(120) == 1
    output = "".join(up.lines)
    assert "inference stopped unexpectedly" in output and "giving up" in output
    assert "skinscan up: stopped" in output
    assert up.children() == {}


def test_ctrl_c_stops_front_to_back_failing_no_accepted_request_and_leaves_no_trace(
    model_repository: Path, tmp_path: Path, malignant_jpeg: Path
) -> None:
    # The gateway logs how each call it handled ended (DEBUG): that tells a request it
    # accepted from one refused at the door.
    up = _up(model_repository, tmp_path, SKINSCAN_GATEWAY_LOG_LEVEL="DEBUG")
    up.start(timeout_s=120)
    assert up.process is not None
    key = _api_key(up)
    with _Load(up.grpc_target, key, malignant_jpeg, callers=4, retries=False) as load:
        time.sleep(2)
        assert load.answered > 0
        began = time.monotonic()
        # What a terminal's Ctrl-C does: SIGINT to every process of the foreground group.
        os.killpg(up.process.pid, signal.SIGINT)
        code = up.process.wait(60)
        stopping_s = time.monotonic() - began
    assert code == 0
    output = "".join(up.lines)
    names = ("gateway", "preprocessor", "inference", "redis")
    order = [output.index(f"{name} stopped (") for name in names]
    assert order == sorted(order), "front to back"
    assert "Traceback" not in output
    assert stopping_s < 30
    # Every analysis the gateway handled (the SDK sends small images as AnalyzeImage) ended
    # OK: none it accepted failed.
    handled = re.findall(r"Analyze(?:Image)? (\w+) in [0-9.]+ ms", output)
    assert handled and set(handled) == {"OK"}, sorted(set(handled))
    # The rest never reached a handler: refused at the closed door, or cancelled by the
    # server's shutdown before any handler took them (the SDK sends both again).
    unhandled = ("failed to connect", "(CANCELLED): CANCELLED")
    assert [e for e in load.errors if not any(u in str(e) for u in unhandled)] == []
    print(
        f"Ctrl-C under load: {load.answered} answered, {len(handled)} handled (all OK), "
        f"{len(load.errors)} never handled; stopped in {stopping_s:.1f} s"
    )
    assert list((tmp_path / "tmp").iterdir()) == []


def test_queued_jobs_survive_a_restart_of_skinscan_up(
    model_repository: Path, tmp_path: Path, malignant_jpeg: Path
) -> None:
    # No job workers: the job waits in the embedded Redis while skinscan up restarts.
    first = _up(model_repository, tmp_path, SKINSCAN_PREPROCESSOR_JOB_WORKERS="0")
    first.start(timeout_s=120)
    try:
        key = _api_key(first)
        with Client(first.grpc_target, api_key=key) as client:
            job = client.submit_job(malignant_jpeg)
            assert client.get_job(job.id).status == JobStatus.QUEUED
    finally:
        first.stop()
    env = {**first.env, "SKINSCAN_PREPROCESSOR_JOB_WORKERS": "2"}
    second = SkinscanUp(env, first.ports)
    second.start(timeout_s=120)
    try:
        with Client(second.grpc_target, api_key=key) as client:
            done = client.wait_for_job(job.id, timeout_s=60)
        assert done.status == JobStatus.SUCCEEDED and done.result is not None
    finally:
        second.stop()
    assert (tmp_path / "state" / "redis" / "appendonly.aof").is_file()


def test_redis_killed_degrades_health_keeps_analyses_and_jobs_resume(
    model_repository: Path, tmp_path: Path, malignant_jpeg: Path
) -> None:
    up = _up(model_repository, tmp_path, SKINSCAN_RESTART_BACKOFF_S="4")
    up.start(timeout_s=120)
    try:
        key = _api_key(up)
        with Client(up.grpc_target, api_key=key) as client:
            done = client.wait_for_job(client.submit_job(malignant_jpeg).id, timeout_s=60)
            assert done.status == JobStatus.SUCCEEDED
            assert httpx.get(f"{up.rest_url}/healthz").json() == {
                "status": "ok",
                "dependencies": {"preprocessor": "ok", "redis": "ok", "database": "ok"},
            }
            redis_pid = up.children()["redis"]
            os.kill(redis_pid, signal.SIGKILL)
            time.sleep(1.2)  # past the health report's one-second freshness
            health = httpx.get(f"{up.rest_url}/healthz").json()
            assert health["status"] == "degraded"
            assert health["dependencies"]["redis"] == "unavailable"
            # Synchronous analyses need no Redis.
            assert client.analyze(malignant_jpeg).assessable
            _wait_for_line(up, "redis restarted and serving")
            # The job written before the crash is still there (append-only file), and new
            # jobs are worked by the same, never restarted, preprocessor.
            assert client.get_job(done.id).status == JobStatus.SUCCEEDED
            again = client.wait_for_job(client.submit_job(malignant_jpeg).id, timeout_s=60)
            assert again.status == JobStatus.SUCCEEDED
        restarted = [line for line in up.lines if "restarting it" in line]
        assert restarted and all("redis" in line for line in restarted)
    finally:
        up.stop()


def test_a_new_model_version_deployed_under_load_fails_no_request(
    model_copy: Path, tmp_path: Path, malignant_jpeg: Path
) -> None:
    up = _up(model_copy, tmp_path, SKINSCAN_INFERENCE_MODEL_POLL_S="0.5")
    up.start(timeout_s=120)
    try:
        key = _api_key(up)
        with _Load(up.grpc_target, key, malignant_jpeg, callers=3) as load:
            deadline = time.monotonic() + 30
            while load.answered < 10:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            # Published as the trainer does: written aside, then renamed into place.
            model = model_copy / TEST_MODEL_NAME
            shutil.copytree(model / "1", model / ".staging-2")
            (model / ".staging-2").rename(model / "2")
            deadline = time.monotonic() + 60
            while load.versions[-5:] != ["2"] * 5:
                assert time.monotonic() < deadline, "version 2 never answered"
                time.sleep(0.1)
        print(
            f"model version 2 published under load: {load.answered} answered, "
            f"{len(load.errors)} failed"
        )
        assert load.errors == [], load.errors
        switch = load.versions.index("2")
        assert set(load.versions[:switch]) == {"1"}
        # Answers of the three callers may cross at the switch; after it, only version 2.
        assert set(load.versions[switch + 3 :]) == {"2"}
    finally:
        up.stop()
