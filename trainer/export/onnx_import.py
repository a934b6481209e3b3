"""`--init-from`: the trainer's network rebuilt from an exported model's ONNX graph.

The committed model is the checkpoint: every version the trainer exported can
be the starting point of the next, with nothing but its model folder. The
graph is read node by node. The exporter names each node after the module
that made it (`/classifier/backbone/layer4/layer4.2/conv3/Conv`), so every
weight goes back to the parameter it came from:

- int8 QDQ weights are dequantized (scale times the int8 value: exactly the
  weights the int8 graph computes with); fp32 weights are taken as they are;
- a convolution's BatchNorm, folded into it at export, comes back as an
  identity (no scaling, zero mean, unit variance) carrying the folded bias,
  which computes exactly what the folded convolution did;
- the heads' BatchNorm layers, which the export keeps, are restored as they were;
- the temperatures that divide the logits inside the graph are read back.

Anything in the network that the graph does not fill, or anything in the graph
the network has no place for, is an error: a half-loaded network would train
from noise and say nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from skinscan_model.dequantize import dequantize
from skinscan_model.metadata import ModelMetadata
from skinscan_model.store import ModelVersion
from trainer.data.samples import DataError
from trainer.network.model import SkinLesionClassifier, build_classifier

__all__ = ["GraphImportError", "ImportedModel", "import_model", "module_path"]

_SCOPE = "classifier"


class GraphImportError(DataError):
    """The graph cannot be turned back into the trainer's network; the message says why."""


@dataclass(frozen=True)
class ImportedModel:
    """A model version as a trainable network, with what its graph applied after the heads."""

    version: ModelVersion
    classifier: SkinLesionClassifier
    temperature: float
    diagnosis_temperature: float

    @property
    def metadata(self) -> ModelMetadata:
        return self.version.metadata

    @property
    def identity(self) -> str:
        return f"{self.version.name} version {self.version.version}"


# What every version fits afresh on top of the network it is given (trainer.export.acquisition_fit):
# a graph's acquisition head is not part of the network a child is built from.
_REFITTED = ("acquisition",)


def module_path(node_name: str) -> str | None:
    """`/classifier/backbone/layer4/layer4.2/conv3/Conv` -> `backbone.layer4.2.conv3`.

    The exporter names a node after the modules it was called in, one segment
    per module, each segment its name relative to a level above it (so a
    container's child may repeat the container's name: `layer4.2` after
    `layer4`, `backbone.0.0` after `backbone.0`). Overlapping segments are
    merged; the network's root (`classifier`) is dropped. None for a node
    outside any module.
    """
    segments = node_name.strip("/").split("/")[:-1]
    if segments and segments[0] == _SCOPE:
        segments = segments[1:]
    path = ""
    for segment in segments:
        parts = path.split(".") if path else []
        # The longest tail of the path so far that the segment starts with.
        for start in range(len(parts) + 1):
            tail = ".".join(parts[start:])
            if not tail or segment.startswith(tail + "."):
                path = ".".join([*parts[:start], segment])
                break
    return path or None


class _Graph:
    """Constant tensors of a graph: initializers, Constant nodes and dequantized weights."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.nodes = list(model.graph.node)
        self._initializers = {i.name: i for i in model.graph.initializer}
        self._producers = {output: node for node in self.nodes for output in node.output}

    def constant(self, name: str) -> np.ndarray:
        if name in self._initializers:
            return numpy_helper.to_array(self._initializers[name])
        node = self._producers.get(name)
        if node is not None and node.op_type == "Constant":
            return numpy_helper.to_array(node.attribute[0].t)
        if node is not None and node.op_type == "DequantizeLinear":
            return self._dequantized(node)
        raise GraphImportError(f"{name} is computed in the graph, not a stored weight")

    def _dequantized(self, node: onnx.NodeProto) -> np.ndarray:
        zero = self.constant(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        return dequantize(self.constant(node.input[0]), self.constant(node.input[1]), zero, axis)

    def consumers(self, name: str) -> list[onnx.NodeProto]:
        return [n for n in self.nodes if name in n.input]


def _set(target: torch.Tensor, value: np.ndarray, what: str) -> None:
    if tuple(target.shape) != value.shape:
        raise GraphImportError(
            f"{what}: the graph holds shape {value.shape}, the network {tuple(target.shape)}; "
            "the metadata describes another network than the graph"
        )
    with torch.no_grad():
        target.copy_(torch.from_numpy(np.array(value, dtype=np.float32)))


def _batchnorm_after(classifier: nn.Module, conv_path: str) -> nn.BatchNorm2d:
    """The BatchNorm that follows a convolution in its parent (where the export folded it)."""
    parent_path, _, name = conv_path.rpartition(".")
    parent = classifier.get_submodule(parent_path) if parent_path else classifier
    children = list(parent.named_children())
    index = next(i for i, (child, _) in enumerate(children) if child == name)
    follower = children[index + 1][1] if index + 1 < len(children) else None
    if not isinstance(follower, nn.BatchNorm2d):
        raise GraphImportError(f"{conv_path} has a bias in the graph but no BatchNorm after it")
    return follower


def _as_identity(norm: nn.BatchNorm2d, bias: np.ndarray, what: str) -> list[str]:
    """A BatchNorm that adds `bias` and nothing else, in eval mode."""
    assert norm.running_mean is not None and norm.running_var is not None
    _set(norm.bias, bias, what)
    with torch.no_grad():
        norm.weight.fill_(1.0)
        norm.running_mean.zero_()
        # (x - 0) / sqrt(var + eps) must be x: var + eps = 1.
        norm.running_var.fill_(1.0 - norm.eps)
    return ["weight", "bias", "running_mean", "running_var"]


def _load_weights(classifier: SkinLesionClassifier, graph: _Graph) -> None:
    filled: set[str] = set()
    for node in graph.nodes:
        path = module_path(node.name)
        if path is None or node.op_type not in ("Conv", "Gemm", "BatchNormalization"):
            continue
        if path.split(".")[0] in _REFITTED:
            continue
        try:
            module = classifier.get_submodule(path)
        except AttributeError as error:
            raise GraphImportError(
                f"the graph's {node.name} has no place in the network ({path}): the metadata "
                "describes another network than the graph"
            ) from error
        if node.op_type == "Conv":
            assert isinstance(module, nn.Conv2d)
            _set(module.weight, graph.constant(node.input[1]), path)
            filled.add(f"{path}.weight")
            if len(node.input) > 2 and node.input[2]:
                bias = graph.constant(node.input[2])
                if module.bias is not None:
                    _set(module.bias, bias, f"{path}.bias")
                    filled.add(f"{path}.bias")
                else:
                    norm = _batchnorm_after(classifier, path)
                    norm_path = next(n for n, m in classifier.named_modules() if m is norm)
                    names = _as_identity(norm, bias, f"{path} (folded BatchNorm)")
                    filled |= {f"{norm_path}.{n}" for n in names}
        elif node.op_type == "Gemm":
            assert isinstance(module, nn.Linear)
            transposed = any(a.name == "transB" and a.i == 1 for a in node.attribute)
            weight = graph.constant(node.input[1])
            _set(module.weight, weight if transposed else weight.T, path)
            _set(module.bias, graph.constant(node.input[2]), f"{path}.bias")
            filled |= {f"{path}.weight", f"{path}.bias"}
        else:
            assert isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d)
            assert module.running_mean is not None and module.running_var is not None
            for name, source in zip(
                ("weight", "bias", "running_mean", "running_var"), node.input[1:5], strict=True
            ):
                _set(getattr(module, name), graph.constant(source), f"{path}.{name}")
                filled.add(f"{path}.{name}")
            module.eps = next(a.f for a in node.attribute if a.name == "epsilon")
    # Normalization constants come from the metadata; BatchNorm counters mean nothing here.
    expected = {name for name, _ in classifier.named_parameters()} | {
        name
        for name, _ in classifier.named_buffers()
        if not name.endswith("num_batches_tracked") and not name.startswith("normalize.")
    }
    missing = sorted(expected - filled)
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise GraphImportError(f"the graph has no weights for {shown}")


def _temperature(graph: _Graph, head_path: str) -> float:
    """The constant a head's last Gemm output is divided by in the graph (1 if none)."""
    last = [
        n
        for n in graph.nodes
        if n.op_type == "Gemm" and (module_path(n.name) or "").startswith(head_path + ".")
    ]
    if not last:
        raise GraphImportError(f"the graph has no {head_path}")
    for consumer in graph.consumers(last[-1].output[0]):
        if consumer.op_type == "Div":
            return float(graph.constant(consumer.input[1]))
    return 1.0


def _diagnosis_classes(graph: _Graph) -> int:
    """How many diagnoses the graph's diagnosis head names (0 without one): its last Gemm's
    outputs. The metadata cannot say: a version whose diagnosis is not served
    (trainer.export.output_gates) lists none, though its graph has the head."""
    gemms = [
        n
        for n in graph.nodes
        if n.op_type == "Gemm" and (module_path(n.name) or "").startswith("diagnosis_head.")
    ]
    if not gemms:
        return 0
    last = gemms[-1]
    weight = graph.constant(last.input[1])
    transposed = any(a.name == "transB" and a.i == 1 for a in last.attribute)
    return int(weight.shape[0] if transposed else weight.shape[1])


def import_model(version: ModelVersion) -> ImportedModel:
    """Rebuilds `version`'s network in eval mode, its weights exactly those of the graph."""
    metadata = version.metadata
    graph = _Graph(onnx.load(str(version.onnx_path)))
    # The diagnosis head and branch are part of the network, not of the metadata: the
    # graph says.
    branch = any((module_path(n.name) or "").startswith("diagnosis_stage.") for n in graph.nodes)
    classifier = build_classifier(
        metadata.architecture,
        "none",
        len(metadata.labels),
        metadata.input,
        _diagnosis_classes(graph),
        branch,
    )
    _load_weights(classifier, graph)
    classifier.eval()
    diagnosing = classifier.diagnosis_head is not None
    return ImportedModel(
        version=version,
        classifier=classifier,
        temperature=_temperature(graph, "head"),
        diagnosis_temperature=_temperature(graph, "diagnosis_head") if diagnosing else 1.0,
    )
