"""A child version's int8 graph quantizes its parent's tensors exactly as the parent did.

Re-calibrating the int8 activation ranges of a network whose decision path
was not trained still moves its decisions: on version 2's path, calibrated
anew on the same kind of images, 0.3-0.7% of held-out decisions changed. So
after the child's graph is quantized, every activation the two graphs share
(the same module's output: the node names lead back to it) takes the parent's
scale and zero point, and every convolution the parent quantized takes its
int8 weights and int32 bias as they were. (A weight dequantized from int8 and
quantized again does not land on the same integers: the symmetric range is
recomputed from the rounded maximum, and every scale shrinks a little.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from trainer.export.onnx_import import module_path

__all__ = ["inherit_quantization"]

_Key = tuple[str, str, int]


def _quantized_activations(model: onnx.ModelProto) -> dict[_Key, tuple[str, ...]]:
    """(module, producing op, output index) -> the scale and zero point names of its QDQ pair."""
    producers = {output: node for node in model.graph.node for output in node.output}
    found: dict[_Key, tuple[str, ...]] = {}
    for node in model.graph.node:
        if node.op_type != "QuantizeLinear" or len(node.input) < 3:
            continue
        producer = producers.get(node.input[0])
        path = module_path(producer.name) if producer is not None else None
        if producer is None or path is None:
            continue
        key = (path, producer.op_type, list(producer.output).index(node.input[0]))
        found[key] = (node.input[1], node.input[2])
    return found


def _quantized_constants(model: onnx.ModelProto) -> dict[_Key, tuple[str, ...]]:
    """(convolution, "Conv", input index) -> the initializers of the DequantizeLinear
    that feeds its weight (1) or bias (2)."""
    producers = {output: node for node in model.graph.node for output in node.output}
    initializers = {i.name for i in model.graph.initializer}
    found: dict[_Key, tuple[str, ...]] = {}
    for node in model.graph.node:
        path = module_path(node.name)
        if node.op_type != "Conv" or path is None:
            continue
        for index in (1, 2):
            dequantize = producers.get(node.input[index]) if len(node.input) > index else None
            if dequantize is None or dequantize.op_type != "DequantizeLinear":
                continue
            names = tuple(n for n in dequantize.input if n)
            if all(n in initializers for n in names):
                found[(path, "Conv", index)] = names
    return found


def _copy(
    ours: dict[_Key, tuple[str, ...]],
    theirs: dict[_Key, tuple[str, ...]],
    initializers: dict[str, onnx.TensorProto],
    parent_values: dict[str, np.ndarray],
) -> int:
    taken = 0
    for key, names in ours.items():
        if key not in theirs or len(theirs[key]) != len(names):
            continue
        for our_name, their_name in zip(names, theirs[key], strict=True):
            value = parent_values[their_name]
            initializers[our_name].CopyFrom(numpy_helper.from_array(value, our_name))
        taken += 1
    return taken


def inherit_quantization(parent: Path, child: Path) -> int:
    """Rewrites `child` (an int8 QDQ graph) with `parent`'s quantization wherever both
    quantize the same module's output or weights; returns how many tensors were taken."""
    theirs_model = onnx.load(str(parent))
    ours_model = onnx.load(str(child))
    parent_values: dict[str, np.ndarray] = {
        i.name: numpy_helper.to_array(i) for i in theirs_model.graph.initializer
    }
    initializers = {i.name: i for i in ours_model.graph.initializer}
    # Weights first: a scale initializer may be shared, and activations win where it is.
    taken = _copy(
        _quantized_constants(ours_model),
        _quantized_constants(theirs_model),
        initializers,
        parent_values,
    )
    taken += _copy(
        _quantized_activations(ours_model),
        _quantized_activations(theirs_model),
        initializers,
        parent_values,
    )
    onnx.save(ours_model, str(child))
    return taken
