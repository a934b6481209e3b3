"""The benchmark's overhead: the services' CPU per image less ONNX Runtime's, at the batch formed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from skinscan_cli.bench.overhead import (
    OnnxRuntimeCost,
    overhead_ms,
    parse_batch_totals,
)
from skinscan_model.store import LocalModelStore
from tests.conftest import TEST_MODEL_NAME


def _metrics(batches: list[int]) -> str:
    """The inference service's histogram, as prometheus_client writes it."""
    registry = CollectorRegistry()
    histogram = Histogram(
        "skinscan_inference_batch_size", "Images per batch.", registry=registry, buckets=(1, 8)
    )
    for size in batches:
        histogram.observe(size)
    return generate_latest(registry).decode()


def test_the_mean_batch_is_read_from_the_histogram_between_two_readings() -> None:
    before = parse_batch_totals(_metrics([1, 1]))
    after = parse_batch_totals(_metrics([1, 1, 8, 8, 5]))
    assert (after.images, after.batches) == (23.0, 5.0)
    assert after.mean_since(before) == pytest.approx(7.0)
    # No batch ran in between: no mean, rather than a division by zero.
    assert after.mean_since(after) is None
    assert parse_batch_totals("").batches == 0


def test_onnxruntime_cost_is_measured_once_per_batch_size(model_repository: Path) -> None:
    version = LocalModelStore(model_repository).fetch(TEST_MODEL_NAME)
    size = version.metadata.input.size
    pixels = np.random.default_rng(0).integers(0, 256, (3, size, size, 3), np.uint8)
    cost = OnnxRuntimeCost(version, pixels)
    four = cost.cpu_ms_per_image(4)
    assert four > 0
    assert cost.cpu_ms_per_image(4) == four  # measured once, then remembered
    with pytest.raises(ValueError, match="at least 1"):
        cost.cpu_ms_per_image(0)


def test_overhead_is_what_the_three_services_spent_beyond_onnxruntime() -> None:
    cpu = {"gateway": 2.0, "preprocessor": 3.5, "inference": 10.0, "clients": 4.0, "total": 19.5}
    assert overhead_ms(cpu, 9.4) == {
        "services_ms": 15.5,
        "onnxruntime_ms": 9.4,
        "overhead_ms": 6.1,
    }


def test_onnxruntime_cpu_as_the_service_counted_it_is_read_between_two_readings() -> None:
    text = (
        "skinscan_inference_onnxruntime_cpu_seconds_total {seconds}\n"
        "skinscan_inference_onnxruntime_cpu_images_total {images}\n"
    )
    before = parse_batch_totals(text.format(seconds=1.0, images=100.0))
    after = parse_batch_totals(text.format(seconds=1.5, images=200.0))
    assert after.onnxruntime_ms_since(before) == pytest.approx(5.0)
    assert after.onnxruntime_ms_since(after) is None  # nothing counted in between
