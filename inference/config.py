"""Inference service settings (SKINSCAN_INFERENCE_*, and the shared ones it reads)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from skinscan_kit.settings import PORTS, ModelRepositorySettings, ModelSettings, ServiceSettings

__all__ = ["InferenceSettings"]


class InferenceSettings(ServiceSettings, ModelSettings, ModelRepositorySettings):
    model_config = SettingsConfigDict(env_prefix="SKINSCAN_INFERENCE_", frozen=True, extra="ignore")

    port: int = PORTS["inference"]
    metrics_port: int = PORTS["inference_metrics"]
    # auto: CUDA when onnxruntime-gpu sees a GPU, else CPU. cuda: fail without one.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    max_batch_size: int = Field(default=16, ge=1, le=512)
    # How long the first request of a batch may wait for others to join it.
    max_queue_delay_ms: float = Field(default=2.0, ge=0.0, le=1000.0)
    # 0 lets ONNX Runtime use every core.
    intra_op_threads: int = Field(default=0, ge=0)
    # A batch of 64 images at 224x224x3 is 9.6 MB, over gRPC's 4 MB default.
    max_message_bytes: int = 64 * 1024 * 1024
