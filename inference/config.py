"""Inference service settings (SKINSCAN_INFERENCE_*)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from skinscan.settings import ServiceSettings

__all__ = ["InferenceSettings"]


class InferenceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SKINSCAN_INFERENCE_", frozen=True, extra="ignore")

    port: int = 50053
    metrics_port: int = 9103
    model_repository: Path = Field(
        default=Path("models"), validation_alias=AliasChoices("SKINSCAN_MODEL_REPOSITORY")
    )
    model_name: str = Field(
        default="skinscan-resnet50", validation_alias=AliasChoices("SKINSCAN_MODEL_NAME")
    )
    # auto: CUDA when onnxruntime-gpu sees a GPU, else CPU. cuda: fail without one.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    max_batch_size: int = Field(default=16, ge=1, le=512)
    # How long the first request of a batch may wait for others to join it.
    max_queue_delay_ms: float = Field(default=2.0, ge=0.0, le=1000.0)
    # 0 lets ONNX Runtime use every core.
    intra_op_threads: int = Field(default=0, ge=0)
    # A batch of 64 images at 224x224x3 is 9.6 MB, over gRPC's 4 MB default.
    max_message_bytes: int = 64 * 1024 * 1024
