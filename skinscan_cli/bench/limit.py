"""The limit: the served ONNX file in ONNX Runtime alone, and decode + resize alone."""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from inference.onnx_model import OnnxModel
from skinscan_model.preprocessing import (
    ImageLimits,
    decode_image,
    load_model_input,
    resize_and_crop,
)
from skinscan_model.store import ModelVersion

__all__ = [
    "DecodeCost",
    "PrecisionRatio",
    "RawResult",
    "RawThroughput",
    "TimedRuns",
    "decode_cost",
    "int8_over_fp32",
    "raw_throughput",
    "timed_runs",
]


@dataclass(frozen=True)
class RawThroughput:
    threads: int  # ONNX Runtime's threads per batch
    spin_wait: bool
    batch_size: int
    images_per_s: float
    concurrent: int = 1  # batches run at once, each from its own thread


@dataclass(frozen=True)
class RawResult:
    best: RawThroughput
    tried: list[RawThroughput]
    batch1_ms: float  # median latency of one image


@dataclass(frozen=True)
class DecodeCost:
    ms_per_image: float  # median, one core
    images: int


@dataclass(frozen=True)
class TimedRuns:
    runs: int
    seconds: float  # wall time of the runs
    # The process's CPU time over the runs (every thread's, the bench's own included).
    cpu_seconds: float


def timed_runs(run: Callable[[np.ndarray], object], batch: np.ndarray, seconds: float) -> TimedRuns:
    """`run(batch)` again and again for `seconds`, after one run at this batch size that is
    not counted (allocation, the first run's set-up)."""
    run(batch)
    runs, started, cpu_started = 0, time.perf_counter(), time.process_time()
    while (elapsed := time.perf_counter() - started) < seconds:
        run(batch)
        runs += 1
    return TimedRuns(runs, elapsed, time.process_time() - cpu_started)


def _concurrent_batches_per_s(
    run: Callable[[np.ndarray], object], batch: np.ndarray, seconds: float, concurrent: int
) -> float:
    """Batches per second of `concurrent` threads each running batches on one session, as
    the inference service's concurrent batches do: each thread's own rate, its warm-up run
    left out as in `timed_runs`, summed."""
    with ThreadPoolExecutor(concurrent) as pool:
        timed = pool.map(lambda _: timed_runs(run, batch, seconds), range(concurrent))
        return sum(t.runs / t.seconds for t in timed)


def raw_throughput(
    version: ModelVersion,
    pixels: np.ndarray,
    thread_counts: tuple[int, ...],
    batch_sizes: tuple[int, ...] = (1, 4, 8, 16, 32),
    seconds: float = 2.0,
) -> RawResult:
    """Images per second at each (threads, spinning or not, batch size), and with one
    single-threaded batch per core at once; the best, and the fastest batch-1 latency."""
    tried: list[RawThroughput] = []
    for threads in thread_counts:
        for spin in (True, False):
            model = OnnxModel(version, "cpu", threads, spin_wait=spin)
            for size in batch_sizes:
                batch = np.resize(pixels, (size, *pixels.shape[1:]))
                timed = timed_runs(model.run, batch, seconds)
                tried.append(RawThroughput(threads, spin, size, timed.runs * size / timed.seconds))
    cores = os.cpu_count() or 1
    if cores > 1:
        model = OnnxModel(version, "cpu", 1)
        for size in batch_sizes:
            batch = np.resize(pixels, (size, *pixels.shape[1:]))
            rate = _concurrent_batches_per_s(model.run, batch, seconds, cores) * size
            tried.append(RawThroughput(1, True, size, rate, concurrent=cores))
    best = max(tried, key=lambda r: r.images_per_s)
    # Batch-1 latency at its fastest: every thread on the one image, spinning between ops.
    model = OnnxModel(version, "cpu", max(thread_counts), spin_wait=True)
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


@dataclass(frozen=True)
class PrecisionRatio:
    int8_images_per_s: float
    fp32_images_per_s: float
    threads: int
    batch_size: int
    concurrent: int = 1  # batches run at once, each from its own thread

    @property
    def ratio(self) -> float:
        return self.int8_images_per_s / self.fp32_images_per_s


def int8_over_fp32(
    version: ModelVersion,
    pixels: np.ndarray,
    threads: int,
    batch_size: int,
    seconds: float = 3.0,
    rounds: int = 3,
    concurrent: int = 1,
) -> PrecisionRatio | None:
    """The served int8 graph against the same network in float, at the same threads, batch
    size and batches at once (the raw best's, as served); None for a model that is not
    int8, or without the `onnx` package.

    The two take turns for `rounds` rounds of `seconds` in all, and each keeps its best
    round: on a shared host a neighbour's burst would otherwise land on one of them alone
    (two 3-second runs of the same session here differed by up to 9%)."""
    if version.metadata.precision != "int8" or importlib.util.find_spec("onnx") is None:
        return None
    from skinscan_cli.bench.float_graph import float_graph

    batch = np.resize(pixels, (batch_size, *pixels.shape[1:]))
    int8 = OnnxModel(version, "cpu", threads)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    fp32 = ort.InferenceSession(
        float_graph(version.onnx_path), options, providers=["CPUExecutionProvider"]
    )
    name = int8.input.name
    runs: list[Callable[[np.ndarray], object]] = [
        int8.run,
        lambda pixels: fp32.run(None, {name: pixels}),
    ]
    rates = [0.0, 0.0]
    for _ in range(rounds):
        for index, run in enumerate(runs):
            rate = _concurrent_batches_per_s(run, batch, seconds / rounds, concurrent)
            rates[index] = max(rates[index], rate * batch_size)
    return PrecisionRatio(rates[0], rates[1], threads, batch_size, concurrent)
