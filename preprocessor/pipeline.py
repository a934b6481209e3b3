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
from skinscan_model.preprocessing import ImageLimits, decode_image, resize_and_crop
from skinscan_model.quality import QualityMeasures, measure

__all__ = ["ImagePipeline", "InferenceBackend"]


class InferenceBackend(Protocol):
    @property
    def model(self) -> ServedModel: ...

    async def infer(self, pixels: np.ndarray, model: ServedModel) -> InferenceResult: ...


class ImagePipeline:
    def __init__(self, backend: InferenceBackend, limits: ImageLimits) -> None:
        self.backend = backend
        self.limits = limits

    def _prepare(self, data: bytes, size: int) -> tuple[np.ndarray, QualityMeasures]:
        """Model input, exactly as the trainer made it, and its quality measures."""
        started = time.perf_counter()
        try:
            image = decode_image(data, self.limits)
            pixels = resize_and_crop(image, size)
            return pixels, measure(pixels, short_side=min(image.size))
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
        pixels, measures = await asyncio.to_thread(self._prepare, data, model.input_size)
        result = await self.backend.infer(pixels[np.newaxis], model)
        return decide(
            request_id,
            result.probabilities[0],
            result.labels,
            result.positive_label,
            result.decision_threshold,
            result.model,
            measures,
            result.quality_limits,
            model.input_size,
        )
