"""Settings that several services must agree on are one variable, read by each."""

from __future__ import annotations

import pytest

from gateway.config import GatewaySettings
from inference.config import InferenceSettings
from preprocessor.config import PreprocessorSettings
from skinscan_kit.settings import MAX_IMAGE_BYTES, SettingsError, read_settings
from skinscan_model.store import DEFAULT_MODEL_NAME


def test_one_upload_limit_for_every_edge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKINSCAN_MAX_IMAGE_BYTES", "12345")
    assert GatewaySettings().max_image_bytes == PreprocessorSettings().max_image_bytes == 12345


def test_shared_names_reach_every_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKINSCAN_MODEL_NAME", "other-model")
    monkeypatch.setenv("SKINSCAN_MODEL_REPOSITORY", "/srv/models")
    monkeypatch.setenv("SKINSCAN_REDIS_URL", "redis://cache:6379/0")
    assert PreprocessorSettings().model_name == InferenceSettings().model_name == "other-model"
    assert InferenceSettings().model_repository == "/srv/models"
    assert GatewaySettings().redis_url == PreprocessorSettings().redis_url == "redis://cache:6379/0"


def test_the_pipeline_settings_are_read_with_the_prefix_of_the_service_that_runs_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SKINSCAN_PREPROCESSOR_INFERENCE_TARGET", "inference:50053")
    monkeypatch.setenv("SKINSCAN_PREPROCESSOR_MIN_IMAGE_SIDE", "64")
    monkeypatch.setenv("SKINSCAN_GATEWAY_PREPROCESS_IN_PROCESS", "true")
    monkeypatch.setenv("SKINSCAN_GATEWAY_INFERENCE_TARGET", "10.0.0.7:50053")
    monkeypatch.setenv("SKINSCAN_GATEWAY_MAX_IMAGE_PIXELS", "1000000")
    preprocessor, gateway = PreprocessorSettings(), GatewaySettings()
    assert preprocessor.inference_target == "inference:50053"
    assert preprocessor.image_limits.min_side == 64 and gateway.image_limits.min_side == 32
    assert gateway.preprocess_in_process and gateway.inference_target == "10.0.0.7:50053"
    assert gateway.image_limits.max_pixels == 1_000_000
    assert preprocessor.image_limits.max_pixels == 50_000_000


def test_a_bad_value_is_refused_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKINSCAN_MAX_IMAGE_BYTES", "0")
    with pytest.raises(ValueError, match="SKINSCAN_MAX_IMAGE_BYTES"):
        GatewaySettings()


def test_an_invalid_setting_is_named_by_the_variable_to_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SKINSCAN_GATEWAY_GRPC_PORT", "fifty")
    monkeypatch.setenv("SKINSCAN_MAX_IMAGE_BYTES", "-1")
    with pytest.raises(SettingsError) as refused:
        read_settings(GatewaySettings)
    assert "SKINSCAN_GATEWAY_GRPC_PORT='fifty'" in str(refused.value)
    assert "SKINSCAN_MAX_IMAGE_BYTES='-1'" in str(refused.value)


def test_a_shared_setting_has_no_per_service_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # Otherwise one service could be given another limit, queue or model than the rest.
    for shared in ("SKINSCAN_MAX_IMAGE_BYTES", "SKINSCAN_REDIS_URL", "SKINSCAN_MODEL_NAME"):
        monkeypatch.delenv(shared, raising=False)
    monkeypatch.setenv("SKINSCAN_GATEWAY_MAX_IMAGE_BYTES", "5")
    monkeypatch.setenv("SKINSCAN_PREPROCESSOR_REDIS_URL", "redis://elsewhere:6379/0")
    monkeypatch.setenv("SKINSCAN_INFERENCE_MODEL_NAME", "another-model")
    assert GatewaySettings().max_image_bytes == MAX_IMAGE_BYTES
    assert PreprocessorSettings().redis_url is None
    assert InferenceSettings().model_name == DEFAULT_MODEL_NAME


@pytest.mark.parametrize("name", ["../etc", "a/b", ".hidden", "", "x" * 101])
def test_a_model_name_that_could_leave_the_repository_is_refused(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKINSCAN_MODEL_NAME", name)
    with pytest.raises(SettingsError, match="SKINSCAN_MODEL_NAME"):
        read_settings(InferenceSettings)
