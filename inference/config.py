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
    # How long the first request of a batch may wait for others to join it. 0:
    # a batch takes what queued while the last one ran, so under load batches
    # grow by themselves and a lone request never waits (measured: the 2 ms it
    # was added 2 ms to every lone request and no throughput).
    max_queue_delay_ms: float = Field(default=0.0, ge=0.0, le=1000.0)
    # Images waiting for a batch beyond which a request is refused at once
    # (RESOURCE_EXHAUSTED with Retry-After) instead of queued: a bound on latency
    # and memory when callers send more than the model can compute.
    max_queued_images: int = Field(default=256, ge=1)
    # Threads ONNX Runtime spreads one batch over; 0: every core.
    intra_op_threads: int = Field(default=1, ge=0)
    # Threads for a batch that runs while no other runs and none waits (a lone request),
    # in a second session of the same model: it then has the cores the other batches
    # would use (measured on 2 cores: 15 against 20 ms at batch 1). 0: the usable cores.
    # At or below intra_op_threads, or with CUDA: no second session.
    alone_intra_op_threads: int = Field(default=0, ge=0)
    # Batches computed at the same time, each on its own thread (Triton's
    # instance count). The defaults, two single-threaded batches, suit the
    # 2-core machine where the gateway and the preprocessor share the cores:
    # no thread of a batch waits at a barrier for one the OS gave to another
    # process (measured on 2026-12-01 with the bench's system and 8 gRPC clients:
    # 96-108 images/s in four runs, against 76-93 in three with one batch over
    # both cores). On a larger CPU machine set about one per core left after the
    # other services; with CUDA, 1-2.
    concurrent_batches: int = Field(default=2, ge=1, le=64)
    # ONNX Runtime's threads busy-wait between batches by default. Beside the
    # gateway and the preprocessor on the same cores that spinning takes the CPU
    # they need (measured by `skinscan bench`); on a machine of its own, turn it on.
    spin_wait: bool = False
    # Serve exactly this version of the model; empty: the newest in the
    # repository, followed as new versions are published (or removed, which
    # rolls back to the newest left).
    model_version: str = Field(default="", pattern=r"^[0-9]*$")
    # How often the repository is asked for its newest version; 0: never (the
    # version loaded at start is served until restart).
    model_poll_s: float = Field(default=30.0, ge=0.0)
    # How long a replaced version still answers callers that ask for it by
    # number: images prepared for it (another input size) may be in flight, and
    # other replicas may still serve it during a rollout.
    replaced_version_grace_s: float = Field(default=60.0, ge=0.0)
    # A batch of 64 images at 224x224x3 is 9.6 MB, over gRPC's 4 MB default.
    max_message_bytes: int = 64 * 1024 * 1024
