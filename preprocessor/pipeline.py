"""Encoded image in, analysis out: the preprocessor's domain logic."""

from __future__ import annotations

import asyncio
import io
import time
from typing import Protocol

import numpy as np
from PIL import Image

from preprocessor import metrics
from preprocessor.decision import decide
from preprocessor.inference_client import InferenceResult, ModelChangedError, ServedModel
from skinscan.analysis import Analysis, CropBox, HeatMap
from skinscan_model.preprocessing import ImageLimits, crop_box, decode_for_model, resize_and_crop
from skinscan_model.quality import QualityMeasures, measure

__all__ = ["ImagePipeline", "InferenceBackend"]


def _png(grey: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(grey, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


class InferenceBackend(Protocol):
    @property
    def model(self) -> ServedModel: ...

    async def infer(self, pixels: np.ndarray, model: ServedModel) -> InferenceResult: ...


class ImagePipeline:
    def __init__(self, backend: InferenceBackend, limits: ImageLimits) -> None:
        self.backend = backend
        self.limits = limits

    def _prepare(self, data: bytes, size: int) -> tuple[np.ndarray, QualityMeasures, CropBox]:
        """Model input, exactly as the trainer made it, its quality, and where it lies in the upload."""
        started = time.perf_counter()
        try:
            image, full_size = decode_for_model(data, size, self.limits)
            pixels = resize_and_crop(image, size)
            measures = measure(pixels, short_side=min(full_size))
            return pixels, measures, CropBox(*crop_box(*full_size, size))
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
        pixels, measures, crop = await asyncio.to_thread(self._prepare, data, model.input_size)
        result = await self.backend.infer(pixels[np.newaxis], model)
        heatmap = None
        if result.heatmaps is not None:
            heatmap = HeatMap(await asyncio.to_thread(_png, result.heatmaps[0]), crop)
        return decide(request_id, result.image(0, heatmap), measures)
