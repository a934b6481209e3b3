"""The served int8 network with its quantization taken out: what fp32 costs, for the
int8 / fp32 ratio of the same network (no float graph is published beside the int8 one).

Weights are dequantized into float initializers and every QuantizeLinear ->
DequantizeLinear pair on an activation is removed, so ONNX Runtime runs the same
convolutions in float. The weights keep int8's rounding, which changes no cost.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from skinscan_model.dequantize import dequantize

__all__ = ["float_graph"]


def _dequantized(node: onnx.NodeProto, initializers: dict[str, onnx.TensorProto]) -> np.ndarray:
    def value(name: str) -> np.ndarray:
        return numpy_helper.to_array(initializers[name])

    zero = value(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
    return dequantize(value(node.input[0]), value(node.input[1]), zero, axis)


def float_graph(path: Path) -> bytes:
    model = onnx.load(str(path))
    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    producer = {output: node for node in graph.node for output in node.output}
    renamed: dict[str, str] = {}
    floats: list[onnx.TensorProto] = []
    kept: list[onnx.NodeProto] = []
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in initializers:
            weights = _dequantized(node, initializers)
            floats.append(numpy_helper.from_array(weights, node.output[0]))
        elif node.op_type == "DequantizeLinear" and producer.get(node.input[0]) is not None:
            quantize = producer[node.input[0]]
            if quantize.op_type != "QuantizeLinear":
                kept.append(node)
                continue
            renamed[node.output[0]] = quantize.input[0]
        elif node.op_type != "QuantizeLinear":
            kept.append(node)

    def source(name: str) -> str:
        while name in renamed:
            name = renamed[name]
        return name

    for node in kept:
        node.input[:] = [source(name) for name in node.input]
    for output in graph.output:  # a graph output that was a DQ's: an Identity keeps its name
        if output.name in renamed:
            kept.append(helper.make_node("Identity", [source(output.name)], [output.name]))
    used = {name for node in kept for name in node.input}
    survivors = [i for i in graph.initializer if i.name in used] + [
        f for f in floats if f.name in used
    ]
    del graph.node[:]
    graph.node.extend(kept)
    del graph.initializer[:]
    graph.initializer.extend(survivors)
    onnx.checker.check_model(model)
    return model.SerializeToString()
