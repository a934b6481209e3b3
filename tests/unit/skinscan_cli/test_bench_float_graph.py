"""The fp32 network the benchmark compares int8 against is the same network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from inference.onnx_model import OnnxModel
from skinscan_cli.bench.float_graph import float_graph
from skinscan_cli.bench.limit import int8_over_fp32
from skinscan_model.store import LocalModelStore
from tests.conftest import ROOT


def test_the_float_graph_has_no_quantization_and_answers_as_the_int8_one() -> None:
    version = LocalModelStore(ROOT / "models").fetch("skinscan-resnet50")
    assert version.metadata.precision == "int8"
    rebuilt = float_graph(version.onnx_path)
    ops = {node.op_type for node in onnx.load_from_string(rebuilt).graph.node}
    assert not ops & {"QuantizeLinear", "DequantizeLinear"}
    assert "Conv" in ops
    served = OnnxModel(version, "cpu", 1)
    session = ort.InferenceSession(rebuilt, providers=["CPUExecutionProvider"])
    pixels = np.random.default_rng(0).integers(0, 256, (4, *served.input.shape[1:]), np.uint8)
    wanted = version.metadata.probabilities_output
    int8 = served.run(pixels)[wanted]
    fp32 = session.run([wanted], {served.input.name: pixels})[0]
    # Quantized activations are the only difference left.
    assert np.abs(int8 - fp32).max() < 0.02
    assert np.array_equal(int8.argmax(axis=1), fp32.argmax(axis=1))


def test_a_float_model_has_nothing_to_take_out(tmp_path: Path) -> None:
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Relu", ["x"], ["y"])],
        "tiny",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])],
    )
    path = tmp_path / "tiny.onnx"
    onnx.save(onnx.helper.make_model(graph), str(path))
    rebuilt = onnx.load_from_string(float_graph(path))
    assert [node.op_type for node in rebuilt.graph.node] == ["Relu"]


def test_int8_and_fp32_are_timed_as_served_two_batches_at_once() -> None:
    version = LocalModelStore(ROOT / "models").fetch("skinscan-resnet50")
    size = version.metadata.input.size
    pixels = np.random.default_rng(0).integers(0, 256, (4, size, size, 3), np.uint8)
    measured = int8_over_fp32(version, pixels, 1, 4, seconds=0.4, rounds=2, concurrent=2)
    assert measured is not None
    assert (measured.threads, measured.batch_size, measured.concurrent) == (1, 4, 2)
    assert measured.int8_images_per_s > 0 and measured.fp32_images_per_s > 0
    assert measured.ratio == measured.int8_images_per_s / measured.fp32_images_per_s
