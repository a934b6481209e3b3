"""The limit: the served ONNX file in ONNX Runtime alone, and decode + resize alone."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from inference.onnx_model import OnnxModel
from skinscan_model.preprocessing import (
    ImageLimits,
    decode_image,
    load_model_input,
    resize_and_crop,
)
from skinscan_model.store import ModelVersion

__all__ = ["DecodeCost", "RawResult", "RawThroughput", "decode_cost", "raw_throughput"]


@dataclass(frozen=True)
class RawThroughput:
    threads: int
    batch_size: int
    images_per_s: float


@dataclass(frozen=True)
class RawResult:
    best: RawThroughput
    tried: list[RawThroughput]
    batch1_ms: float  # median latency of one image


@dataclass(frozen=True)
class DecodeCost:
    ms_per_image: float  # median, one core
    images: int


def _timed_runs(model: OnnxModel, batch: np.ndarray, seconds: float) -> tuple[int, float]:
    model.run(batch)  # warm-up at this batch size
    runs, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        model.run(batch)
        runs += 1
    return runs, elapsed


def raw_throughput(
    version: ModelVersion,
    pixels: np.ndarray,
    thread_counts: tuple[int, ...],
    batch_sizes: tuple[int, ...] = (1, 4, 8, 16, 32),
    seconds: float = 3.0,
) -> RawResult:
    """Images per second at each (threads, batch size); the best, and batch-1 latency."""
    tried: list[RawThroughput] = []
    for threads in thread_counts:
        model = OnnxModel(version, "cpu", threads)
        for size in batch_sizes:
            batch = np.resize(pixels, (size, *pixels.shape[1:]))
            runs, elapsed = _timed_runs(model, batch, seconds)
            tried.append(RawThroughput(threads, size, runs * size / elapsed))
    best = max(tried, key=lambda r: r.images_per_s)
    model = OnnxModel(version, "cpu", best.threads)
    one = pixels[:1]
    model.run(one)
    latencies = []
    for _ in range(50):
        started = time.perf_counter()
        model.run(one)
        latencies.append(time.perf_counter() - started)
    return RawResult(best, tried, float(np.median(latencies)) * 1000)


def decode_cost(encoded: list[bytes], size: int, full_decode: bool = False) -> DecodeCost:
    """Decode, check, orient, resize and crop: the preprocessor's own path, one image at a
    time; with `full_decode`, Pillow decoding every pixel first (the path before DCT scaling)."""
    times = []
    for data in encoded:
        started = time.perf_counter()
        if full_decode:
            resize_and_crop(decode_image(data, ImageLimits()), size)
        else:
            load_model_input(data, size)
        times.append(time.perf_counter() - started)
    return DecodeCost(float(np.median(times)) * 1000, len(encoded))
