"""Encoded image in, analysis out: the preprocessor's domain logic."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

import numpy as np

from preprocessor import metrics
from preprocessor.decision import decide
from preprocessor.inference_client import InferenceResult, ModelChangedError, ServedModel
from skinscan.analysis import Analysis
from skinscan_model.preprocessing import ImageLimits, load_model_input

__all__ = ["ImagePipeline", "InferenceBackend"]


class InferenceBackend(Protocol):
    @property
    def model(self) -> ServedModel: ...

    async def infer(self, pixels: np.ndarray, model: ServedModel) -> InferenceResult: ...


class ImagePipeline:
    def __init__(self, backend: InferenceBackend, limits: ImageLimits) -> None:
        self.backend = backend
        self.limits = limits

    def _prepare(self, data: bytes, size: int) -> np.ndarray:
        started = time.perf_counter()
        try:
            return load_model_input(data, size, self.limits)
        finally:
            metrics.DECODE_SECONDS.observe(time.perf_counter() - started)

    async def classify(self, data: bytes, request_id: str) -> Analysis:
        try:
            return await self._classify(data, request_id)
        except ModelChangedError:
            # A new version was deployed while this image was on its way; the
            # backend has learnt its input now, so prepare the image again, once.
            return await self._classify(data, request_id)

    async def _classify(self, data: bytes, request_id: str) -> Analysis:
        model = self.backend.model
        # Decoding is CPU work; a thread keeps the event loop answering other calls.
        pixels = await asyncio.to_thread(self._prepare, data, model.input_size)
        result = await self.backend.infer(pixels[np.newaxis], model)
        return decide(
            request_id,
            result.probabilities[0],
            result.labels,
            result.positive_label,
            result.decision_threshold,
            result.model,
        )
