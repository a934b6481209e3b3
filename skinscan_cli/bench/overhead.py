"""What a path costs per image beyond the model itself: the services' CPU against ONNX Runtime's.

Throughput on a shared, noisy host moves from run to run; CPU time per image
does not, so it is the figure to track. Each service process's CPU time is
read before and after a path's measured window (bench.command). Beside it,
ONNX Runtime's own CPU time per image is measured here, on the same file, in a
session set up as the inference service sets up its own (one thread, no
spinning), at the batch size the service's batcher really formed in that
window (its `skinscan_inference_batch_size` histogram). What the services
spent beyond that is the overhead: gRPC hops, decoding, credentials,
admission, metrics, logging and the Python in between.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import numpy as np

from inference.onnx_model import OnnxModel
from skinscan_cli.bench.limit import timed_runs
from skinscan_model.store import ModelVersion

__all__ = [
    "SERVICES",
    "BatchTotals",
    "OnnxRuntimeCost",
    "batch_totals",
    "overhead_ms",
    "parse_batch_totals",
]

SERVICES = ("gateway", "preprocessor", "inference")
BATCH_METRIC = "skinscan_inference_batch_size"
# Long enough that the process clock's resolution and the first runs' allocation vanish.
MEASURE_SECONDS = 2.0


@dataclass(frozen=True)
class BatchTotals:
    images: float  # the batch-size histogram's sum: images computed
    batches: float  # its count: batches run
    # ONNX Runtime's CPU time as the service counted it (runs on one thread), and the
    # images of those runs.
    onnxruntime_s: float = 0.0
    onnxruntime_images: float = 0.0

    def mean_since(self, before: BatchTotals) -> float | None:
        """The mean batch size of the batches run between `before` and this reading."""
        batches = self.batches - before.batches
        return (self.images - before.images) / batches if batches > 0 else None

    def onnxruntime_ms_since(self, before: BatchTotals) -> float | None:
        """ONNX Runtime's CPU-ms per image inside the service between the two readings."""
        images = self.onnxruntime_images - before.onnxruntime_images
        if images <= 0:
            return None
        return (self.onnxruntime_s - before.onnxruntime_s) * 1000 / images


_SAMPLES = {
    f"{BATCH_METRIC}_sum": "images",
    f"{BATCH_METRIC}_count": "batches",
    "skinscan_inference_onnxruntime_cpu_seconds_total": "onnxruntime_s",
    "skinscan_inference_onnxruntime_cpu_images_total": "onnxruntime_images",
}


def parse_batch_totals(metrics_text: str) -> BatchTotals:
    """The inference service's batch and ONNX Runtime totals, from its /metrics text."""
    values = dict.fromkeys(_SAMPLES.values(), 0.0)
    for line in metrics_text.splitlines():
        name, _, value = line.partition(" ")
        if name in _SAMPLES:
            values[_SAMPLES[name]] = float(value)
    return BatchTotals(**values)


def batch_totals(metrics_url: str) -> BatchTotals:
    return parse_batch_totals(httpx.get(metrics_url, timeout=5).text)


class OnnxRuntimeCost:
    """ONNX Runtime's CPU milliseconds per image on one version, by batch size, measured once
    each, in a session like the inference service's."""

    def __init__(self, version: ModelVersion, pixels: np.ndarray) -> None:
        self._model = OnnxModel(version, "cpu", intra_op_threads=1, spin_wait=False)
        self._pixels = pixels
        self._measured: dict[int, float] = {}

    def cpu_ms_per_image(self, batch_size: int) -> float:
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        if batch_size not in self._measured:
            batch = np.resize(self._pixels, (batch_size, *self._pixels.shape[1:]))
            timed = timed_runs(self._model.run, batch, MEASURE_SECONDS)
            self._measured[batch_size] = timed.cpu_seconds * 1000 / (timed.runs * batch_size)
        return self._measured[batch_size]


def overhead_ms(cpu_ms_per_image: dict[str, float], onnxruntime_ms: float) -> dict[str, float]:
    """The services' CPU per image, ONNX Runtime's share of it, and the rest: the overhead."""
    services = sum(cpu_ms_per_image.get(name, 0.0) for name in SERVICES)
    return {
        "services_ms": round(services, 2),
        "onnxruntime_ms": round(onnxruntime_ms, 2),
        "overhead_ms": round(services - onnxruntime_ms, 2),
    }
