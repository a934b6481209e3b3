"""The served ONNX Runtime session: the int8 stem's MaxPool stays in float, same answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from inference.onnx_model import DISABLED_OPTIMIZERS, OnnxModel
from skinscan_model.store import LocalModelStore, ModelVersion
from tests.conftest import ROOT


def _default_model() -> ModelVersion:
    version = LocalModelStore(ROOT / "models").fetch("skinscan-resnet50")
    assert version.metadata.precision == "int8"
    return version


def _maxpool_inputs(version: ModelVersion, tmp_path: Path, disabled: list[str]) -> list[str]:
    """What feeds each MaxPool of the graph ONNX Runtime optimized and would run."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(
        str(version.onnx_path),
        options,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=disabled,
    )
    graph = onnx.load(str(tmp_path / "optimized.onnx")).graph
    producer = {output: node.op_type for node in graph.node for output in node.output}
    return [producer.get(n.input[0], "input") for n in graph.node if n.op_type == "MaxPool"]


def test_the_served_session_answers_as_onnx_runtimes_defaults_bit_for_bit() -> None:
    version = _default_model()
    served = OnnxModel(version, "cpu", 2)
    plain = ort.InferenceSession(str(version.onnx_path), providers=["CPUExecutionProvider"])
    pixels = np.random.default_rng(0).integers(0, 256, (8, *served.input.shape[1:]), np.uint8)
    expected = dict(
        zip(
            [o.name for o in plain.get_outputs()],
            plain.run(None, {served.input.name: pixels}),
            strict=True,
        )
    )
    answered = served.run(pixels)
    assert answered.keys() == expected.keys()
    for name, value in answered.items():
        assert np.array_equal(value, expected[name]), name


def test_the_stem_maxpool_is_not_moved_onto_uint8(tmp_path: Path) -> None:
    version = _default_model()
    # ONNX Runtime's default: the QuantizeLinear moved above the MaxPool (the slow kernel).
    assert "QuantizeLinear" in _maxpool_inputs(version, tmp_path, [])
    # Served: none is fed quantized values (it is fused into the stem's blocked convolution,
    # or runs in float beside it).
    assert "QuantizeLinear" not in _maxpool_inputs(version, tmp_path, DISABLED_OPTIMIZERS)


def test_the_wider_session_for_a_lone_batch_answers_the_same() -> None:
    version = _default_model()
    model = OnnxModel(version, "cpu", 1, alone_threads=2)
    assert model.alone_session is not None
    pixels = np.random.default_rng(1).integers(0, 256, (2, *model.input.shape[1:]), np.uint8)
    narrow, wide = model.run(pixels), model.run_alone(pixels)
    for name, value in narrow.items():
        assert np.array_equal(value, wide[name]), name
    # Every core already in the one session, or no more threads asked for: no second one.
    assert OnnxModel(version, "cpu", 0, alone_threads=2).alone_session is None
    assert OnnxModel(version, "cpu", 2, alone_threads=2).alone_session is None


def test_a_one_thread_session_counts_onnxruntimes_cpu_time_and_images() -> None:
    from prometheus_client import REGISTRY

    def counted() -> tuple[float, float]:
        seconds = REGISTRY.get_sample_value("skinscan_inference_onnxruntime_cpu_seconds_total")
        images = REGISTRY.get_sample_value("skinscan_inference_onnxruntime_cpu_images_total")
        return seconds or 0.0, images or 0.0

    model = OnnxModel(_default_model(), "cpu", 1)
    pixels = np.zeros((3, *model.input.shape[1:]), np.uint8)
    before = counted()
    model.run(pixels)
    after = counted()
    assert after[1] - before[1] == 3 and after[0] > before[0]
    OnnxModel(_default_model(), "cpu", 2).run(pixels)  # other threads' time is not seen
    assert counted()[1] == after[1]
