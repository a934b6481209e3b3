"""The served model: validation of requests, batching, and what clients need to know."""

from __future__ import annotations

import numpy as np

from inference.dynamic_batcher import DynamicBatcher
from inference.onnx_model import OnnxModel, TensorSpec
from skinscan.errors import InvalidRequestError, NotFoundError

__all__ = ["ModelService"]


class ModelService:
    """One loaded model version behind a dynamic batcher."""

    def __init__(self, model: OnnxModel, batcher: DynamicBatcher) -> None:
        self.model = model
        self.batcher = batcher
        self.name = model.version.name
        self.version = model.version.version
        self.metadata = model.version.metadata

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return (self.model.input,)

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return self.model.outputs

    def check_model(self, name: str, version: str) -> None:
        if name != self.name:
            raise NotFoundError(f"no model named {name!r}; this server serves {self.name!r}")
        if version and version != self.version:
            raise NotFoundError(
                f"model {self.name!r} has no version {version!r} loaded; it serves version "
                f"{self.version}"
            )

    async def infer(
        self, inputs: dict[str, np.ndarray], requested: list[str]
    ) -> dict[str, np.ndarray]:
        spec = self.model.input
        if set(inputs) != {spec.name}:
            raise InvalidRequestError(
                f"model {self.name!r} takes exactly one input, {spec.name!r}; got {sorted(inputs)}"
            )
        pixels = inputs[spec.name]
        if pixels.dtype != np.uint8:
            raise InvalidRequestError(f"input {spec.name!r} must be UINT8 pixels")
        if pixels.ndim != 4 or pixels.shape[1:] != spec.shape[1:] or pixels.shape[0] < 1:
            raise InvalidRequestError(
                f"input {spec.name!r} must have shape [N, {spec.shape[1]}, {spec.shape[2]}, 3] "
                f"with N >= 1; got {list(pixels.shape)}"
            )
        names = [o.name for o in self.outputs]
        unknown = [r for r in requested if r not in names]
        if unknown:
            raise InvalidRequestError(f"unknown outputs {unknown}; the model has {names}")
        outputs = await self.batcher.infer(pixels)
        return {name: outputs[name] for name in (requested or names)}
